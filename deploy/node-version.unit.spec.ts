import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '..');
const pin = readFileSync(join(root, '.node-version'), 'utf8').trim();
const major = Number(pin.split('.')[0]);

describe('the Node.js release (.node-version)', () => {
  it('is one exact release of an even major, the lines that become LTS', () => {
    expect(pin).toMatch(/^\d+\.\d+\.\d+$/);
    expect(major % 2).toBe(0);
  });

  it('is the release the image is built on', () => {
    const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
    expect(dockerfile).toContain(`ARG NODE_VERSION=${pin}\n`);
    const bases = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    expect(bases).toEqual(['node:${NODE_VERSION}-bookworm-slim', 'node:${NODE_VERSION}-bookworm-slim']);
  });

  it("is the lower bound of package.json's engines, which end before the next major", () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } };
    expect(pkg.engines.node).toBe(`>=${pin} <${major + 1}`);
  });
});

describe('deploy/local/node.sh', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-node-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A `node` that only prints VERSION for -v, first on PATH. */
  function fakeNode(version: string): string {
    const bin = join(dir, version);
    execFileSync('mkdir', ['-p', bin]);
    writeFileSync(join(bin, 'node'), `#!/bin/sh\necho v${version}\n`);
    chmodSync(join(bin, 'node'), 0o755);
    return bin;
  }

  const env = (bin: string) => ({
    ...process.env,
    PATH: `${bin}:${process.env.PATH}`,
    SLUICE_RUN_DIR: join(dir, 'run'),
    SLUICE_NODE_HOME: join(dir, 'home'),
  });

  function fits(version: string): boolean {
    const script = `source '${join(root, 'deploy/local/lib.sh')}'; node_fits node && echo yes || echo no`;
    return execFileSync('bash', ['-c', script], { env: env(fakeNode(version)), encoding: 'utf8' }).trim() === 'yes';
  }

  it('takes a node of the same major at the pinned release or later, and no other', () => {
    const [, minor, patch] = pin.split('.').map(Number) as [number, number, number];
    expect(fits(pin)).toBe(true);
    expect(fits(`${major}.${minor + 1}.0`)).toBe(true);
    expect(fits(`${major}.${minor}.${patch + 10}`)).toBe(true);
    expect(fits(`${major + 2}.0.0`)).toBe(false);
    expect(fits(`${major - 4}.20.2`)).toBe(false);
    if (patch > 0) expect(fits(`${major}.${minor}.${patch - 1}`)).toBe(false);
    else expect(fits(`${major}.${minor - 1}.99`)).toBe(false);
  });

  it('prints no directory, and installs nothing, when the node on PATH fits', () => {
    const out = execFileSync('bash', [join(root, 'deploy/local/node.sh'), 'bin'], { env: env(fakeNode(pin)), encoding: 'utf8' });
    expect(out).toBe('');
    expect(() => readFileSync(join(dir, 'home'))).toThrow(/ENOENT/);
  });
});
