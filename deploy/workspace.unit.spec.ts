import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..');
const json = (file: string) => JSON.parse(readFileSync(join(root, file), 'utf8')) as Record<string, Record<string, unknown>>;

describe('workspace', () => {
  it('.swcrc resolves the same path aliases as tsconfig.base.json (the build and the type-checker agree)', () => {
    const ts = json('tsconfig.base.json').compilerOptions!.paths;
    const swc = (json('.swcrc').jsc as { paths: unknown }).paths;
    expect(swc).toEqual(ts);
  });
});
