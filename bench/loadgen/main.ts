import { randomUUID } from 'node:crypto';
import { writeResult } from '../results';
import { HttpTarget, type LoadRequest } from './http-target';
import { runClosedModel, runOpenModel, type Phase } from './models';
import { reportRun } from './report';

/**
 * A load generator for any HTTP endpoint, open or closed model.
 *   node dist/bench/loadgen/main.js --url http://127.0.0.1:3000 --path /v1/wallets \
 *     --method POST --body '{"currency":"EUR"}' --header 'idempotency-key: {{uuid}}' \
 *     --phases warm:200:5,burst:1500:10,after:200:10 [--connections 64] [--name my-run]
 *   … --users 32 --duration 20          (closed model: 32 virtual users)
 * In --path, --body and --header values, {{uuid}} is a fresh UUID and {{i}} the request number.
 */
interface Args {
  url: string;
  path: string;
  method: string;
  body: string | undefined;
  headers: [string, string][];
  phases: Phase[] | undefined;
  users: number | undefined;
  durationSec: number;
  connections: number;
  name: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    url: 'http://127.0.0.1:3000',
    path: '/',
    method: 'GET',
    body: undefined,
    headers: [],
    phases: undefined,
    users: undefined,
    durationSec: 10,
    connections: 64,
    name: 'loadgen',
  };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i] ?? '';
    const value = argv[++i];
    if (value === undefined) throw new Error(`${key} needs a value`);
    switch (key) {
      case '--url':
        args.url = value;
        break;
      case '--path':
        args.path = value;
        break;
      case '--method':
        args.method = value.toUpperCase();
        break;
      case '--body':
        args.body = value;
        break;
      case '--header': {
        const at = value.indexOf(':');
        if (at < 1) throw new Error(`--header wants "name: value", got ${value}`);
        args.headers.push([value.slice(0, at).trim().toLowerCase(), value.slice(at + 1).trim()]);
        break;
      }
      case '--rate':
        args.phases = [{ name: 'steady', ratePerSec: Number(value), durationSec: args.durationSec }];
        break;
      case '--phases':
        args.phases = value.split(',').map((p) => {
          const [name, rate, dur] = p.split(':');
          if (!name || !(Number(rate) > 0) || !(Number(dur) > 0)) throw new Error(`bad phase ${p}: want name:rate:seconds`);
          return { name, ratePerSec: Number(rate), durationSec: Number(dur) };
        });
        break;
      case '--users':
        args.users = Number(value);
        break;
      case '--duration':
        args.durationSec = Number(value);
        if (args.phases?.length === 1 && args.phases[0]!.name === 'steady') args.phases[0]!.durationSec = args.durationSec;
        break;
      case '--connections':
        args.connections = Number(value);
        break;
      case '--name':
        args.name = value;
        break;
      default:
        throw new Error(`unknown option ${key}`);
    }
  }
  if (!args.phases && !args.users) throw new Error('give --rate, --phases (open model) or --users (closed model)');
  return args;
}

function fill(template: string, i: number): string {
  return template.replace(/\{\{uuid\}\}/g, () => randomUUID()).replace(/\{\{i\}\}/g, String(i));
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const target = new HttpTarget(args.url, args.connections);
  const request = (i: number): LoadRequest => ({
    method: args.method,
    path: fill(args.path, i),
    headers: Object.fromEntries(args.headers.map(([k, v]) => [k, fill(v, i)])),
    ...(args.body !== undefined && { body: fill(args.body, i) }),
  });
  const model = args.users
    ? `closed, ${args.users} users, ${args.durationSec} s`
    : `open, ${args.phases!.map((p) => `${p.name} ${p.ratePerSec}/s × ${p.durationSec} s`).join(', ')}`;
  console.error(`${args.method} ${args.url}${args.path} — ${model}`);
  const rec = args.users
    ? await runClosedModel(target, { users: args.users, durationSec: args.durationSec }, { request })
    : await runOpenModel(target, args.phases!, { request });
  target.close();
  const result = reportRun(args.name, rec);
  console.log(
    `\nwrote ${writeResult(args.name, { args: { ...args, headers: Object.fromEntries(args.headers) }, model, ...result })}`,
  );
}

main().catch((err: unknown) => {
  console.error(`loadgen failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
