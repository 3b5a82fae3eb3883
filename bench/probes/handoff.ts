import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { option, textOption } from '../options';
import { writeResult } from '../results';
import { printTable } from '../stats';

/**
 * The price of one round trip between two processes on this machine: a client
 * sends a message over loopback TCP (plain or TLS), an echo server in another
 * process sends it back, one at a time, as a service and its database or broker
 * do for each statement or request. Prints the CPU each side spends per round
 * trip (user + system, from process.cpuUsage) and the wall time, and writes
 * bench/results/probe-handoff.json. Every hop of the platform pays this per
 * round trip on both ends, before any work of its own.
 *   node dist/bench/probes/handoff.js [--round-trips 20000] [--sizes 200,4000]
 */

interface Case {
  transport: 'tcp' | 'tls';
  bytes: number;
}

interface Measured extends Case {
  roundTrips: number;
  wallUsPerRoundTrip: number;
  clientCpuUs: number;
  serverCpuUs: number;
}

const ROLE = process.argv[2];

/** The echo server, in its own process: reports its port, then its CPU time whenever asked. */
function serve(transport: string, certDir: string): void {
  const onConnection = (socket: net.Socket) => {
    socket.setNoDelay(true);
    socket.on('data', (chunk) => socket.write(chunk));
  };
  const server =
    transport === 'tls'
      ? tls.createServer(
          { key: readFileSync(join(certDir, 'key.pem')), cert: readFileSync(join(certDir, 'cert.pem')) },
          onConnection,
        )
      : net.createServer(onConnection);
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as net.AddressInfo).port }));
  process.on('message', () => {
    const { user, system } = process.cpuUsage();
    process.send!({ cpuUs: user + system });
  });
}

function reply<T>(child: ChildProcess, ask: boolean): Promise<T> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as T));
    if (ask) child.send('cpu');
  });
}

async function measure(c: Case, roundTrips: number, certDir: string): Promise<Measured> {
  const child = fork(__filename, ['serve', c.transport, certDir]);
  try {
    const { port } = await reply<{ port: number }>(child, false);
    const socket =
      c.transport === 'tls'
        ? tls.connect({ port, host: '127.0.0.1', ca: readFileSync(join(certDir, 'cert.pem')), servername: 'localhost' })
        : net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once(c.transport === 'tls' ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    const payload = Buffer.alloc(c.bytes, 0x61);
    const serverBefore = (await reply<{ cpuUs: number }>(child, true)).cpuUs;
    const cpuBefore = process.cpuUsage();
    const started = process.hrtime.bigint();
    await new Promise<void>((resolve) => {
      let done = 0;
      let received = 0;
      socket.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received < c.bytes) return;
        received = 0;
        if (++done === roundTrips) resolve();
        else socket.write(payload);
      });
      socket.write(payload);
    });
    const wallUs = Number(process.hrtime.bigint() - started) / 1_000;
    const cpu = process.cpuUsage(cpuBefore);
    const serverAfter = (await reply<{ cpuUs: number }>(child, true)).cpuUs;
    socket.destroy();
    return {
      ...c,
      roundTrips,
      wallUsPerRoundTrip: wallUs / roundTrips,
      clientCpuUs: (cpu.user + cpu.system) / roundTrips,
      serverCpuUs: (serverAfter - serverBefore) / roundTrips,
    };
  } finally {
    child.kill();
  }
}

async function main(): Promise<void> {
  const roundTrips = option('round-trips', 20_000);
  const sizes = (textOption('sizes') ?? '200,4000').split(',').map(Number);
  if (!(roundTrips >= 100) || sizes.some((s) => !(s >= 1)))
    throw new RangeError('--round-trips >= 100 and --sizes of bytes >= 1');
  const certDir = mkdtempSync(join(tmpdir(), 'sluice-handoff-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost',
      '-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem'),
    ], { stdio: 'ignore' }); // prettier-ignore
    const results: Measured[] = [];
    for (const bytes of sizes) {
      for (const transport of ['tcp', 'tls'] as const) {
        process.stderr.write(`  ${transport}, ${bytes} B: ${roundTrips} round trips\n`);
        results.push(await measure({ transport, bytes }, roundTrips, certDir));
      }
    }
    printTable(
      `one round trip between two processes over loopback (${roundTrips} each, one at a time)`,
      ['transport', 'message bytes', 'wall µs', 'client CPU µs', 'server CPU µs', 'both ends CPU µs'],
      results.map((r) => [
        r.transport,
        r.bytes,
        r.wallUsPerRoundTrip.toFixed(0),
        r.clientCpuUs.toFixed(1),
        r.serverCpuUs.toFixed(1),
        (r.clientCpuUs + r.serverCpuUs).toFixed(1),
      ]),
    );
    console.log(`\nwrote ${writeResult('probe-handoff', { roundTrips, results })}`);
  } finally {
    rmSync(certDir, { recursive: true, force: true });
  }
}

if (ROLE === 'serve') serve(process.argv[3]!, process.argv[4]!);
else
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
