import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { testEnv } from './env';
import { javaKafkaProperties } from './kafka';

/**
 * Runs the real Debezium (embedded engine, PostgreSQL connector over pgoutput, Outbox Event
 * Router, Java KafkaProducer) next to Sluice's relay: deploy/debezium holds the harness, this file
 * builds and drives it. Parity tests compare its records with the relay's; benchmarks read its
 * drain rate from the progress it reports.
 *
 *   await buildDebezium();                          // optional: startDebezium builds too
 *   const dbz = await startDebezium({ databaseUrl, slot, publication, offsetFile, stopAfterRecords: n });
 *   // ... write n outbox events ...
 *   const { records, elapsedMs } = await dbz.waitDone();
 *   await dbz.stop();
 */
export interface DebeziumOptions {
  /** The outbox's database: postgres://user[:password]@host[:port]/database. */
  databaseUrl: string;
  /** Debezium's own slot, created by the connector at start when missing (never the relay's). */
  slot: string;
  /** Debezium's own publication, created (inserts only) when missing. */
  publication: string;
  /** Where the engine stores its offsets; a later run with the same file and slot resumes there. */
  offsetFile: string;
  /** The router's route.topic.replacement; default `outbox.event.${routedByValue}`. */
  topicPattern?: string;
  /** Default public.outbox. */
  table?: { schema: string; name: string };
  /** Columns the router places as headers beside `id` (those the table lacks are skipped); default type, traceparent. */
  headerColumns?: string[];
  /** Default testEnv.kafkaBrokers. */
  brokers?: string[];
  /** The harness exits 0 once Kafka acknowledged this many records; waitDone() resolves then. */
  stopAfterRecords?: number;
  /** Extra environment: ENGINE_<KEY> / PRODUCER_<KEY> overrides (see Settings.java), HARNESS_JAVA_OPTS. */
  env?: Record<string, string>;
  /** How long the engine may take to stream from its slot; default 60 s. */
  startTimeoutMs?: number;
}

/** Records acknowledged by Kafka, and milliseconds since the harness reported `started`. */
export interface DebeziumProgress {
  records: number;
  elapsedMs: number;
}

export interface DebeziumDone extends DebeziumProgress {
  /** When the first record arrived (ms since started): drain rate = records / (elapsedMs - firstRecordMs). */
  firstRecordMs: number;
}

export interface DebeziumProcess {
  readonly pid: number;
  /** Spawn to `started` as seen from here: JVM start, engine start, slot creation, streaming. */
  readonly startupMs: number;
  /** The latest progress report (about once a second). */
  readonly progress: DebeziumProgress;
  /** Debezium's own log (stderr). */
  readonly logFile: string;
  /** Resolves when stopAfterRecords records were acknowledged and the harness exited cleanly. */
  waitDone(timeoutMs?: number): Promise<DebeziumDone>;
  /** SIGTERM (the engine commits its offsets), then SIGKILL after graceMs. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

const HARNESS_KEYS =
  /^(DB_[A-Z]+|SLOT_NAME|PUBLICATION_NAME|OUTBOX_TABLE|TOPIC_REPLACEMENT|KAFKA_BOOTSTRAP_SERVERS|OFFSET_FILE|STOP_AFTER_RECORDS|HEADER_COLUMNS|START_TIMEOUT_MS|OFFSET_FLUSH_INTERVAL_MS|ENGINE_.+|PRODUCER_.+)$/;

let building: Promise<number> | undefined;

/**
 * Compiles the harness and resolves its jars (Maven, into .run/debezium) unless the sources are
 * unchanged since the last build. Resolves with the milliseconds it took; rejects with the end of
 * the Maven log when the build fails.
 */
export function buildDebezium(): Promise<number> {
  building ??= new Promise<number>((res, rej) => {
    const started = Date.now();
    const { root, script } = harnessPaths();
    execFile('bash', [script, 'build'], { cwd: root, maxBuffer: 16 * 1024 * 1024 }, (err, _stdout, stderr) => {
      if (err) {
        building = undefined;
        rej(new Error(`building the Debezium harness (${script} build) failed:\n${stripAnsi(stderr).trim() || err.message}`));
      } else {
        res(Date.now() - started);
      }
    });
  });
  return building;
}

/** Builds when needed, starts the harness and resolves once it streams from its slot. */
export async function startDebezium(options: DebeziumOptions): Promise<DebeziumProcess> {
  await buildDebezium();
  const db = new URL(options.databaseUrl);
  const table = options.table ?? { schema: 'public', name: 'outbox' };
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !HARNESS_KEYS.test(k)) env[k] = v;
  Object.assign(env, {
    DB_HOST: db.hostname || '127.0.0.1',
    DB_PORT: db.port || '5432',
    DB_NAME: decodeURIComponent(db.pathname.slice(1)),
    DB_USER: decodeURIComponent(db.username) || 'postgres',
    DB_PASSWORD: decodeURIComponent(db.password),
    SLOT_NAME: options.slot,
    PUBLICATION_NAME: options.publication,
    OUTBOX_TABLE: `${table.schema}.${table.name}`,
    TOPIC_REPLACEMENT: options.topicPattern ?? 'outbox.event.${routedByValue}',
    KAFKA_BOOTSTRAP_SERVERS: (options.brokers ?? testEnv.kafkaBrokers).join(','),
    OFFSET_FILE: resolve(options.offsetFile),
    HEADER_COLUMNS: (options.headerColumns ?? ['type', 'traceparent']).join(','),
    START_TIMEOUT_MS: String(options.startTimeoutMs ?? 60_000),
    ...(options.stopAfterRecords !== undefined && { STOP_AFTER_RECORDS: String(options.stopAfterRecords) }),
    // PRODUCER_SECURITY_PROTOCOL=SASL_SSL becomes the producer's security.protocol, and so on.
    ...Object.fromEntries(
      Object.entries(javaKafkaProperties()).map(([key, value]) => [`PRODUCER_${key.toUpperCase().replace(/\./g, '_')}`, value]),
    ),
    ...options.env,
  });
  const { root, script } = harnessPaths();
  const logDir = join(root, '.run/logs/tests');
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `debezium-${options.slot}.log`);
  const spawnedAt = Date.now();
  const child = spawn('bash', [script, 'run'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  return new HarnessProcess(child, logFile, spawnedAt).started(options.startTimeoutMs ?? 60_000);
}

interface HarnessLine {
  event: string;
  records?: number;
  elapsedMs?: number;
  firstRecordMs?: number;
  message?: string;
}

class HarnessProcess implements DebeziumProcess {
  progress: DebeziumProgress = { records: 0, elapsedMs: 0 };
  startupMs = 0;
  private done: DebeziumDone | undefined;
  private failure: string | undefined;
  private readonly stderrTail: string[] = [];
  private readonly exited: Promise<number | null>;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly child: ChildProcess,
    readonly logFile: string,
    private readonly spawnedAt: number,
  ) {
    const log = createWriteStream(logFile, { flags: 'a' });
    child.stderr!.pipe(log);
    createInterface({ input: child.stderr! }).on('line', (line) => {
      this.stderrTail.push(stripAnsi(line));
      if (this.stderrTail.length > 30) this.stderrTail.shift();
    });
    createInterface({ input: child.stdout! }).on('line', (line) => this.onLine(line));
    this.exited = new Promise((res) =>
      child.once('exit', (code, signal) => {
        if (code !== 0 && !this.failure) this.failure = `exited with ${code ?? signal}`;
        this.notify();
        res(code);
      }),
    );
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  async started(timeoutMs: number): Promise<this> {
    try {
      await this.until(() => this.startupMs > 0, timeoutMs + 15_000, 'to start streaming');
      return this;
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async waitDone(timeoutMs = 120_000): Promise<DebeziumDone> {
    await this.until(() => this.done !== undefined && this.child.exitCode === 0, timeoutMs, 'to finish');
    return this.done!;
  }

  async stop(graceMs = 15_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  private onLine(line: string): void {
    let msg: HarnessLine;
    try {
      msg = JSON.parse(line) as HarnessLine;
    } catch {
      return; // only JSON lines are the harness's; anything else is not ours to interpret
    }
    switch (msg.event) {
      case 'started':
        this.startupMs = Date.now() - this.spawnedAt;
        break;
      case 'progress':
        this.progress = { records: msg.records ?? 0, elapsedMs: msg.elapsedMs ?? 0 };
        break;
      case 'done':
        this.done = { records: msg.records ?? 0, elapsedMs: msg.elapsedMs ?? 0, firstRecordMs: msg.firstRecordMs ?? 0 };
        this.progress = { records: this.done.records, elapsedMs: this.done.elapsedMs };
        break;
      case 'failed':
        this.failure = msg.message ?? 'failed';
        break;
    }
    this.notify();
  }

  private notify(): void {
    for (const l of this.listeners) l();
  }

  /** Waits for a condition the harness's output or exit settles; rejects on its failure or exit. */
  private until(ok: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((res, rej) => {
      const check = () => {
        if (ok()) return finish();
        if (this.failure !== undefined || this.child.exitCode !== null || this.child.signalCode !== null) {
          return finish(this.error(`failed ${what}: ${this.failure ?? 'exited'}`));
        }
      };
      const timer = setTimeout(() => finish(this.error(`did not ${what.replace(/^to /, '')} within ${timeoutMs} ms`)), timeoutMs);
      const finish = (err?: Error) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        if (err) rej(err);
        else res();
      };
      this.listeners.add(check);
      check();
    });
  }

  private error(message: string): Error {
    return new Error(`the Debezium harness ${message}\n(log: ${this.logFile}; its end:)\n${this.stderrTail.join('\n')}`);
  }
}

/** The checkout's root, from src/ or from dist/ (whose copy of deploy/ has no package.json beside it). */
function harnessPaths(): { root: string; script: string } {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const script = join(dir, 'deploy/debezium/debezium.sh');
    if (existsSync(script) && existsSync(join(dir, 'package.json'))) return { root: dir, script };
    if (dirname(dir) === dir) throw new Error(`deploy/debezium/debezium.sh not found above ${__dirname}`);
  }
}

function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*m/g, '');
}
