import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { commonEnv, env, loadConfig, z } from '@sluice/config';
import { AvroEventCodec, createKafka, ensureTopics, kafkaSecurityEnv, kafkaSecurityFrom } from '@sluice/messaging';
import { createLogger } from '@sluice/observability';
import { allCatalogs, walletCommandsCatalog } from '@sluice/schemas';
import { DATABASE_USAGE, ensureDatabaseRoles, migrateAll } from './database';
import { aclNamesEnv, aclPlan, applyAcls, describeGrant, platformKafkaNames } from '@sluice/platform';
import { DLQ_TOPIC_USAGE, dlqTopicInspect, dlqTopicList, dlqTopicRedrive, dlqTopics } from './dlq-topics';
import { runInvariants } from './invariants';
import { runProjectorTools } from './projector-tools';
import { runToken } from './token';
import { eventTopics } from './topics';

const cliConfig = z.object({
  ...commonEnv,
  ...kafkaSecurityEnv,
  LOG_LEVEL: commonEnv.LOG_LEVEL.default('warn'),
  TOPIC_PARTITIONS: env.int(12, 1, 1000),
  /** sluice db roles: a directory of files named after roles, each holding that role's password. */
  DB_ROLE_PASSWORDS_DIR: z.string().optional(),
  ...aclNamesEnv,
});

const USAGE = `usage: sluice <command>

commands:
  topics apply     create the event topics that do not exist yet (partitions: TOPIC_PARTITIONS, default 12)
  topics list      print the event topics the platform expects
  acls apply       grant each service's principal its topics and group, the observer read-only access (admin principal)
  acls list        print those grants
  probe kafka      exit 0 when the brokers in KAFKA_BROKERS answer a metadata request
${DATABASE_USAGE}
  schemas register register every event and command schema under its subject (the release step; services in production only look them up)
  invariants check check the money invariants of DATABASE_URL against the provider (sluice invariants check --help)
  projection …     list, rebuild, switch, roll back and replay read models (sluice projection --help)
  dlq …            list, inspect, re-drive and skip the projector's parked records (sluice dlq --help)
  payouts …        list and resolve withdrawals whose payout is under review (sluice payouts --help)
  token            print an access token of the local dev issuer (sluice token --help)

dead-letter topics (every consumer's, one dlq.* header scheme):
${DLQ_TOPIC_USAGE.replace(/^/gm, '  ')}`;

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'invariants') return runInvariants(argv.slice(1));
  if (argv[0] === 'token') return runToken(argv.slice(1));
  if (argv[0] === 'payouts') {
    // The payments worker's own tool: it owns the tables.
    const tool = join(__dirname, '../../payments-worker/src/payouts-cli.js');
    return spawnSync(process.execPath, [tool, ...argv.slice(1)], { stdio: 'inherit' }).status ?? 1;
  }
  const onTopics = argv[0] === 'dlq' && (argv[1] === 'topics' || argv.includes('--topic'));
  if (argv[0] === 'projection' || (argv[0] === 'dlq' && !onTopics)) return runProjectorTools(argv);
  const config = loadConfig(cliConfig);
  const logger = createLogger('sluice-cli', config.LOG_LEVEL);
  const security = kafkaSecurityFrom(config);
  if (onTopics) {
    const kafka = createKafka({ brokers: config.KAFKA_BROKERS, security, clientId: 'sluice-cli', logger });
    const ctx = {
      kafka,
      codec: AvroEventCodec.connect(config.SCHEMA_REGISTRY_URL, allCatalogs, config.OUTBOX_TOPIC_PATTERN),
      print: (line: string) => console.log(line),
    };
    return runDlqTopics(ctx, argv.slice(1));
  }
  const [group, command] = argv;
  if (group === 'db' && command === 'roles') {
    await ensureDatabaseRoles(config.DATABASE_URL, config.DB_ROLE_PASSWORDS_DIR);
    console.log('database roles ready');
    return 0;
  }
  if (group === 'schemas' && command === 'register') {
    const codec = AvroEventCodec.connect(config.SCHEMA_REGISTRY_URL, allCatalogs, config.OUTBOX_TOPIC_PATTERN);
    for (const [subject, id] of await codec.registerAll()) console.log(`registered ${subject}\tid ${id}`);
    // The command topic is named by configuration, not routed by aggregate type.
    const commands = AvroEventCodec.connect(config.SCHEMA_REGISTRY_URL, [walletCommandsCatalog], config.WALLET_COMMANDS_TOPIC);
    for (const [subject, id] of await commands.registerAll()) console.log(`registered ${subject}\tid ${id}`);
    return 0;
  }
  if (group === 'migrate') {
    await migrateAll(config.DATABASE_URL, (line) => console.log(line));
    return 0;
  }
  if (group === 'topics' && (command === 'apply' || command === 'list')) {
    const specs = eventTopics(config.OUTBOX_TOPIC_PATTERN, config.TOPIC_PARTITIONS);
    if (command === 'list') {
      for (const s of specs) console.log(`${s.topic}\t${s.partitions} partitions\tretention: forever`);
      return 0;
    }
    const created = await ensureTopics(
      createKafka({ brokers: config.KAFKA_BROKERS, security, clientId: 'sluice-cli', logger }),
      specs,
    );
    for (const s of specs) console.log(`${created.includes(s.topic) ? 'created' : 'exists '} ${s.topic}`);
    return 0;
  }
  if (group === 'acls' && (command === 'apply' || command === 'list')) {
    const grants = aclPlan(platformKafkaNames(config.OUTBOX_TOPIC_PATTERN, config));
    for (const g of grants) console.log(describeGrant(g));
    if (command === 'apply')
      await applyAcls(createKafka({ brokers: config.KAFKA_BROKERS, security, clientId: 'sluice-cli', logger }), grants);
    return 0;
  }
  if (group === 'probe' && command === 'kafka') {
    const quiet = createLogger('sluice-cli', 'silent');
    const admin = createKafka({
      brokers: config.KAFKA_BROKERS,
      security,
      clientId: 'sluice-probe',
      logger: quiet,
      connectionTimeoutMs: 1_000,
      retries: 1,
    }).admin();
    await admin.connect();
    try {
      const cluster = await admin.describeCluster();
      console.log(`kafka cluster ${cluster.clusterId}: ${cluster.brokers.length} broker(s)`);
    } finally {
      await admin.disconnect();
    }
    return 0;
  }
  console.error(USAGE);
  return 2;
}

function runDlqTopics(ctx: Parameters<typeof dlqTopics>[0], args: string[]): Promise<number> {
  const flag = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const topic = flag('topic');
  const positional = args.slice(1).filter((a, i, all) => !a.startsWith('--') && all[i - 1] !== '--topic');
  const command = args[0];
  if (command === 'topics') return dlqTopics(ctx);
  if (topic === undefined) throw new Error(`--topic is missing\n\n${USAGE}`);
  if (command === 'list') return dlqTopicList(ctx, topic);
  if (command === 'inspect') return dlqTopicInspect(ctx, topic, positional[0]);
  if (command === 'redrive') {
    return dlqTopicRedrive(ctx, topic, {
      ...(positional[0] !== undefined && { at: positional[0] }),
      all: args.includes('--all'),
      force: args.includes('--force'),
    });
  }
  console.error(USAGE);
  return Promise.resolve(2);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`sluice: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
