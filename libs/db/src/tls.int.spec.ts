import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withVerifiedTls } from '@sluice/config';
import { createTestDatabase, testEnv, type TestDatabase } from '@sluice/testing';
import { createPool } from './pool';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('tls');
});

afterAll(async () => {
  await db?.drop();
});

/** Whether the pool's connection is encrypted, as the server sees it. */
async function sslOf(url: string): Promise<boolean> {
  const pool = createPool({ url, applicationName: 'tls-test', max: 1, connectionTimeoutMs: 3_000 });
  try {
    const { rows } = await pool.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    return rows[0]!.ssl;
  } finally {
    await pool.end();
  }
}

function withHost(url: string, host: string): string {
  const u = new URL(url);
  u.hostname = host;
  return u.toString();
}

describe('PostgreSQL over TLS (sslmode=verify-full)', () => {
  it('connects with the local CA, encrypted, by IP address and by name', async () => {
    const url = withVerifiedTls(db.url, testEnv.postgresCaFile);
    expect(await sslOf(url)).toBe(true);
    expect(await sslOf(withHost(url, 'localhost'))).toBe(true);
  });

  it('refuses a server whose certificate another CA signed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-other-ca-'));
    execFileSync('openssl', [
      'req', '-x509', '-new', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-days', '1',
      '-subj', '/CN=another CA', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'),
    ], { stdio: 'ignore' }); // prettier-ignore
    await expect(sslOf(withVerifiedTls(db.url, join(dir, 'ca.crt')))).rejects.toThrow(
      /self[- ]signed|unable to verify|certificate/i,
    );
  });

  it('refuses a host name the certificate does not name', async () => {
    // 127.0.0.2 reaches the same server (all of 127/8 is loopback) under an address outside the certificate.
    const target = new URL(db.url);
    const proxy: Server = createServer((socket) => {
      const upstream = connect(Number(target.port || 5432), target.hostname);
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.2', resolve));
    try {
      const port = (proxy.address() as { port: number }).port;
      const viaProxy = new URL(withVerifiedTls(db.url, testEnv.postgresCaFile));
      viaProxy.hostname = '127.0.0.2';
      viaProxy.port = String(port);
      await expect(sslOf(viaProxy.toString())).rejects.toThrow(/IP: 127\.0\.0\.2 is not in the cert's list|altname/i);
      // The same path with verification of the name off connects: the failure above is the name check.
      viaProxy.searchParams.set('sslmode', 'no-verify');
      viaProxy.searchParams.delete('sslrootcert');
      expect(await sslOf(viaProxy.toString())).toBe(true);
    } finally {
      proxy.close();
    }
  });

  it('still serves plaintext clients on 127.0.0.1 (pg_hba is left as it is)', async () => {
    expect(await sslOf(db.url)).toBe(false);
  });
});
