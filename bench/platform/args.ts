import { parseReplicas } from '@sluice/platform';

export interface PlatformBenchArgs {
  /** Offered deposits per second, one step each, in order. */
  rates: number[];
  stepSeconds: number;
  /** Platform up, no load: each process's CPU per second. */
  idleSeconds: number;
  warmupSeconds: number;
  /** Wallets the deposits spread over (50–500, as clients would). */
  wallets: number;
  /** Keep-alive connections per command-API process. */
  connections: number;
  replicas: number;
  /** Event-topic partitions (of 12) whose deposits are followed hop by hop. */
  samplePartitions: number;
  /** Added to every service's port (make up's plus this), so the bench runs beside make up. */
  portOffset: number;
  /** Another checkout whose build (dist/) runs the same steps, round for round. */
  baseline: string | undefined;
  rounds: number;
  /** Leaves out the reference runs (pgbench and the command API alone). */
  references: boolean;
  /** Produce/consume on a throwaway topic first, so no build pays for a cold broker JVM (0: none). */
  brokerWarmupSeconds: number;
  /** Each build starts once the machine is busy less than this (ms of CPU per second, all cores), or after 2 min. */
  quietBelow: number;
  /** This build again with settings changed (applied to every service, over its own), round for round. */
  variants: Variant[];
}

/** A named set of settings, e.g. `no-access-log:HTTP_ACCESS_LOG=false`. */
export interface Variant {
  name: string;
  env: Record<string, string>;
}

const DEFAULTS: PlatformBenchArgs = {
  rates: [100, 200, 400, 800, 1_200, 1_600],
  stepSeconds: 20,
  idleSeconds: 10,
  warmupSeconds: 5,
  wallets: 200,
  connections: 64,
  replicas: 1,
  samplePartitions: 3,
  portOffset: 10_000,
  baseline: undefined,
  rounds: 1,
  references: true,
  brokerWarmupSeconds: 20,
  quietBelow: 300,
  variants: [],
};

export const USAGE = `node dist/bench/platform/main.js [--rates 100,200,400,...] [--step-seconds 20] [--idle-seconds 10]
  [--warmup-seconds 5] [--wallets 200] [--connections 64] [--replicas 1] [--sample-partitions 3]
  [--port-offset 10000] [--baseline <other checkout> [--rounds 1]] [--no-references]
  [--broker-warmup-seconds 20] [--quiet-below 300]
  [--variant name:SETTING=value[,SETTING=value] ...]`;

/** `name:K=V,K=V`: a variant's name and the settings it changes. */
export function parseVariant(raw: string | undefined): Variant {
  const m = /^([\w.-]+):(.+)$/.exec(raw ?? '');
  if (!m) throw new RangeError(`--variant wants name:SETTING=value[,SETTING=value], got ${raw}`);
  const env: Record<string, string> = {};
  for (const pair of m[2]!.split(',')) {
    const eq = pair.indexOf('=');
    const key = pair.slice(0, eq).trim();
    if (eq < 1 || !/^[A-Z][A-Z0-9_]*$/.test(key)) throw new RangeError(`--variant ${m[1]}: "${pair}" is not SETTING=value`);
    env[key] = pair.slice(eq + 1);
  }
  return { name: m[1]!, env };
}

function positive(name: string, raw: string | undefined, { integer = true, min = 1 } = {}): number {
  const n = Number(raw);
  if (raw === undefined || !Number.isFinite(n) || n < min || (integer && !Number.isInteger(n)))
    throw new RangeError(`--${name} wants ${integer ? 'an integer' : 'a number'} >= ${min}, got ${raw}`);
  return n;
}

export function parseArgs(argv: readonly string[]): PlatformBenchArgs {
  const args: PlatformBenchArgs = { ...DEFAULTS, rates: [...DEFAULTS.rates], variants: [] };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i]!;
    if (key === '--no-references') {
      args.references = false;
      continue;
    }
    const value = argv[++i];
    switch (key) {
      case '--rates': {
        const rates = (value ?? '').split(',').map((r) => positive('rates', r.trim()));
        if (rates.some((r, j) => j > 0 && r <= rates[j - 1]!)) throw new RangeError('--rates must rise step by step');
        args.rates = rates;
        break;
      }
      case '--step-seconds':
        args.stepSeconds = positive('step-seconds', value);
        break;
      case '--idle-seconds':
        args.idleSeconds = positive('idle-seconds', value);
        break;
      case '--warmup-seconds':
        args.warmupSeconds = positive('warmup-seconds', value, { min: 0 });
        break;
      case '--wallets':
        args.wallets = positive('wallets', value);
        if (args.wallets < 50 || args.wallets > 500) throw new RangeError('--wallets must be 50..500');
        break;
      case '--connections':
        args.connections = positive('connections', value);
        break;
      case '--replicas':
        args.replicas = parseReplicas(value);
        break;
      case '--sample-partitions':
        args.samplePartitions = positive('sample-partitions', value);
        if (args.samplePartitions > 12) throw new RangeError('--sample-partitions must be 1..12');
        break;
      case '--port-offset':
        args.portOffset = positive('port-offset', value, { min: 0 });
        break;
      case '--baseline':
        if (!value) throw new RangeError('--baseline wants the path of another checkout');
        args.baseline = value;
        break;
      case '--rounds':
        args.rounds = positive('rounds', value);
        break;
      case '--broker-warmup-seconds':
        args.brokerWarmupSeconds = positive('broker-warmup-seconds', value, { min: 0 });
        break;
      case '--quiet-below':
        args.quietBelow = positive('quiet-below', value, { integer: false, min: 1 });
        break;
      case '--variant': {
        const variant = parseVariant(value);
        if (variant.name === 'baseline' || args.variants.some((v) => v.name === variant.name))
          throw new RangeError(`--variant ${variant.name}: the name is taken`);
        args.variants.push(variant);
        break;
      }
      default:
        throw new RangeError(`unknown option ${key}\nusage: ${USAGE}`);
    }
  }
  return args;
}
