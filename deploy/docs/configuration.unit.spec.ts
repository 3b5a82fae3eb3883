import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REGENERATE, renderConfigurationReference, repositoryRoot, settingDescriptions } from './configuration';

const ROOT = repositoryRoot();
let rendered: string | undefined;
/** Rendering runs prettier in a child process: once for the file. */
const generated = (): string => (rendered ??= renderConfigurationReference(ROOT));

/** The first line where two texts part, with the command that makes them agree; undefined when equal. */
function drift(committed: string, generated: string): string | undefined {
  if (committed === generated) return undefined;
  const a = committed.split('\n');
  const b = generated.split('\n');
  const i = a.findIndex((line, n) => line !== b[n]);
  const at = i === -1 ? a.length : i;
  return (
    `docs/configuration.md differs from its config schemas at line ${at + 1}:\n` +
    `  committed: ${a[at] ?? '(end of file)'}\n  generated: ${b[at] ?? '(end of file)'}\n` +
    `regenerate it: ${REGENERATE}`
  );
}

describe('the configuration reference', () => {
  it('is committed as the config schemas generate it', () => {
    const committed = readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8');
    expect(drift(committed, generated())).toBeUndefined();
  });

  it("lists a service's settings with their types and defaults", () => {
    const text = generated();
    const commandApi = text.slice(text.indexOf('## command-api'), text.indexOf('## outbox-relay'));
    expect(commandApi).toMatch(/^\| `PORT` +\| integer, 0–65535 +\| `3000` +\|/m);
    expect(commandApi).toMatch(/^\| `DATABASE_URL` +\| URL; secret, or a file in `DATABASE_URL_FILE` +\|/m);
    expect(commandApi).toMatch(/^\| `MIGRATE_ON_START` +\| boolean +\| `true` \(`false` with `SLUICE_ENV=production`\) +\|/m);
  });
});

describe('setting descriptions', () => {
  const source = `
    export const sharedEnv = {
      /** Shared and documented. */
      SHARED_SETTING: env.int(1),
      UNDOCUMENTED: env.int(2),
    };
    export function senderEnv(issuer: string) {
      return {
        /**
         * Spread over
         * two lines.
         */
        SENDER_KEY: z.string(),
      };
    }
    export const schema = z.object({
      /** In the schema itself. */
      PORT: env.port(3000),
    });
    const processes = {
      /** Not a schema: a process's environment. */
      DATABASE_URL: 'postgres://x',
    };`;
  const found = settingDescriptions('x.ts', source);

  it('come from the doc comments of schema objects, one line each', () => {
    expect(Object.fromEntries(found)).toEqual({
      SHARED_SETTING: 'Shared and documented.',
      SENDER_KEY: 'Spread over two lines.',
      PORT: 'In the schema itself.',
    });
  });

  it('leave out objects that are not settings', () => {
    expect(found.has('DATABASE_URL')).toBe(false);
  });
});
