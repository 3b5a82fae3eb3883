import { loadConfig } from '@sluice/config';
import { errorMessage } from '@sluice/core';
import { parseArgs, intArg, stringFlag, UsageError } from './args';
import {
  projectionAbandon,
  projectionDrop,
  projectionList,
  projectionRebuild,
  projectionReplay,
  projectionRollback,
  projectionSwitch,
  projectionVersions,
} from './commands';
import { toolsConfig } from './config';
import { openToolContext, type ToolContext } from './context';
import { dlqInspect, dlqList, dlqRedrive } from './dlq';
import { projectionSnapshot, projectionSnapshotDrop, projectionSnapshots } from './snapshot';

export const USAGE = `usage: sluice projection <command> | sluice dlq <command>

projection list                                  every projection, its live version, lag, dead letters and other versions
projection versions <name>                       the versions of one projection
projection rebuild <name> [--from <time>] [--no-switch] [--fresh] [--no-snapshot]
                                                 build a new version beside the live one from the newest snapshot of the
                                                 same fold (else the earliest offset, or a time), with a progress bar;
                                                 switch to it atomically once caught up
projection snapshot <name> [--version <n>]       copy the live version's read model with its offsets; keeps the newest N
projection snapshots [<name>]                    the snapshots, newest first
projection snapshot-drop <id>                    drop one snapshot
projection switch <name> <version> [--force]     make a caught-up version live (after --no-switch)
projection rollback <name> [--to <version>]      catch the previous version up and make it live again
projection abandon <name> <version>              stop a building version (a running rebuild stops too)
projection drop <name> <version>                 drop a version that is not live (tables, checkpoints, parked records)
projection replay <name> --from <time|p:o,...> [--to <time|p:o,...>] [--key <key>] [--into <schema>]
                                                 fold a bounded range into side tables for an investigation

dlq list [--projection <name>] [--key <key>] [--all]     dead letters and the records held behind them
dlq inspect <id>                                         one parked record: error, headers, decoded event
dlq redrive <id> | --key <key> | --all [--projection <name>]
                                                 apply parked records again, oldest first per key, once fixed
dlq skip <id>                                    resolve a dead letter without applying it; re-drive what it held`;

async function run(ctx: ToolContext, argv: string[], signal: AbortSignal): Promise<number> {
  const { positionals, flags } = parseArgs(argv);
  const [group, command, a, b] = positionals;
  if (group === 'projection') {
    switch (command) {
      case 'list':
        return projectionList(ctx);
      case 'versions':
        return projectionVersions(ctx, required(a, 'name'));
      case 'rebuild': {
        const from = stringFlag(flags, 'from');
        return projectionRebuild(ctx, required(a, 'name'), {
          ...(from !== undefined && { from: time(from) }),
          noSwitch: flags.has('no-switch'),
          fresh: flags.has('fresh'),
          snapshot: !flags.has('no-snapshot'),
          signal,
        });
      }
      case 'snapshot': {
        const version = stringFlag(flags, 'version');
        return projectionSnapshot(ctx, required(a, 'name'), version === undefined ? undefined : intArg(version, '--version'));
      }
      case 'snapshots':
        return projectionSnapshots(ctx, a);
      case 'snapshot-drop':
        return projectionSnapshotDrop(ctx, intArg(a, 'id'));
      case 'switch':
        return projectionSwitch(ctx, required(a, 'name'), intArg(b, 'version'), flags.has('force'));
      case 'rollback': {
        const to = stringFlag(flags, 'to');
        return projectionRollback(ctx, required(a, 'name'), to === undefined ? undefined : intArg(to, '--to'), signal);
      }
      case 'abandon':
        return projectionAbandon(ctx, required(a, 'name'), intArg(b, 'version'));
      case 'drop':
        return projectionDrop(ctx, required(a, 'name'), intArg(b, 'version'));
      case 'replay': {
        const to = stringFlag(flags, 'to');
        const key = stringFlag(flags, 'key');
        const into = stringFlag(flags, 'into');
        return projectionReplay(ctx, required(a, 'name'), {
          from: required(stringFlag(flags, 'from'), '--from'),
          ...(to !== undefined && { to }),
          ...(key !== undefined && { key }),
          ...(into !== undefined && { into }),
          signal,
        });
      }
      case undefined:
      default:
        break;
    }
  }
  if (group === 'dlq') {
    const projection = stringFlag(flags, 'projection');
    const key = stringFlag(flags, 'key');
    switch (command) {
      case 'list':
        return dlqList(ctx, {
          ...(projection !== undefined && { projection }),
          ...(key !== undefined && { key }),
          all: flags.has('all'),
        });
      case 'inspect':
        return dlqInspect(ctx, intArg(a, 'id'));
      case 'redrive':
        return dlqRedrive(ctx, {
          ...(a !== undefined && { id: intArg(a, 'id') }),
          ...(key !== undefined && { key }),
          ...(projection !== undefined && { projection }),
          all: flags.has('all'),
        });
      case 'skip':
        return dlqRedrive(ctx, { id: intArg(a, 'id'), skip: true });
      case undefined:
      default:
        break;
    }
  }
  throw new UsageError('unknown command');
}

function required(value: string | undefined, what: string): string {
  if (value === undefined) throw new UsageError(`${what} is missing`);
  return value;
}

function time(value: string): Date {
  const t = new Date(value);
  if (Number.isNaN(t.getTime())) throw new UsageError(`"${value}" is not a time (ISO 8601)`);
  return t;
}

/**
 * The projector's tools, run by `sluice projection …` and `sluice dlq …`.
 * Ctrl-C stops a rebuild or replay gracefully (the batch in flight commits);
 * a second one exits at once.
 */
async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv.includes('--help')) {
    console.error(USAGE);
    return argv.length === 0 ? 2 : 0;
  }
  const config = loadConfig(toolsConfig);
  const abort = new AbortController();
  process.on('SIGINT', () => (abort.signal.aborted ? process.exit(130) : abort.abort()));
  process.on('SIGTERM', () => abort.abort());
  const ctx = await openToolContext(config);
  try {
    return await run(ctx, argv, abort.signal);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`sluice: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  } finally {
    await ctx.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const missing = (err as { code?: unknown }).code === '42P01';
    console.error(
      `sluice: ${errorMessage(err)}${missing ? '\n(the projector creates its tables at start-up: start it once against this database)' : ''}`,
    );
    process.exit(1);
  },
);
