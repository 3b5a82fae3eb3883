import type { Client, Pool } from 'pg';
import { quoteIdent } from './database';

/** Table privileges a role may be given; never TRUNCATE, REFERENCES or TRIGGER. */
export type TablePrivilege = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE';

/**
 * A database role of the platform and what it may do. Roles are the
 * cluster's; their privileges are each database's (granted by grantRoles).
 */
export interface DatabaseRole {
  name: string;
  /** May open replication connections and create replication slots (the relay; the owner for the slot). */
  replication?: boolean;
  /** Tables (or views) in public, by privilege. */
  tables?: Partial<Record<TablePrivilege, readonly string[]>>;
  /** Every table of the schemas a query returns (`SELECT schema FROM …`), e.g. the read models' version schemas. */
  schemaTables?: { schemasQuery: string; privileges: readonly TablePrivilege[] };
}

const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

function checkName(name: string): string {
  if (!ROLE_NAME.test(name)) throw new RangeError(`role name ${name} is not [a-z_][a-z0-9_]*`);
  return quoteIdent(name);
}

/**
 * Creates the roles that do not exist yet (LOGIN, no superuser, no CREATEDB,
 * no CREATEROLE) and keeps their REPLICATION attribute and password as asked.
 * Needs a superuser or a CREATEROLE role; concurrent runs are harmless.
 */
export async function ensureRoles(
  admin: Pick<Client, 'query'>,
  roles: readonly DatabaseRole[],
  passwords: ReadonlyMap<string, string> = new Map(),
): Promise<void> {
  for (const role of roles) {
    const ident = checkName(role.name);
    await admin.query(`CREATE ROLE ${ident} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE`).catch((err: { code?: string }) => {
      // 42710: exists; 23505: created at the same moment by another run.
      if (err.code !== '42710' && err.code !== '23505') throw err;
    });
    await admin.query(`ALTER ROLE ${ident} ${role.replication ? 'REPLICATION' : 'NOREPLICATION'} NOSUPERUSER`);
    const password = passwords.get(role.name);
    if (password !== undefined) {
      // The password travels as a literal (ALTER ROLE takes no parameters); quote it.
      await admin.query(`ALTER ROLE ${ident} PASSWORD '${password.replace(/'/g, "''")}'`);
    }
  }
}

/**
 * Gives each role its privileges in the database `pool` is connected to, and
 * nothing else: CONNECT, USAGE on public, the listed tables' privileges (and
 * the sequences behind them), and for schemaTables USAGE on each such schema
 * and the privileges on its tables. Run by the owner of the objects after the
 * migrations (sluice migrate). Idempotent; tables that do not exist yet are
 * skipped (a service whose migrations have not run).
 */
export async function grantRoles(pool: Pool, roles: readonly DatabaseRole[]): Promise<void> {
  const { rows: db } = await pool.query<{ name: string }>('SELECT current_database() AS name');
  const database = quoteIdent(db[0]!.name);
  const { rows: existing } = await pool.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'p')`,
  );
  const present = new Set(existing.map((r) => r.name));
  for (const role of roles) {
    const ident = checkName(role.name);
    await pool.query(`GRANT CONNECT, TEMPORARY ON DATABASE ${database} TO ${ident}`);
    await pool.query(`GRANT USAGE ON SCHEMA public TO ${ident}`);
    for (const [privilege, tables] of Object.entries(role.tables ?? {}) as [TablePrivilege, readonly string[]][]) {
      const names = tables.filter((t) => present.has(t)).map((t) => `public.${quoteIdent(t)}`);
      if (names.length > 0) await pool.query(`GRANT ${privilege} ON ${names.join(', ')} TO ${ident}`);
    }
    if (role.schemaTables) {
      const { rows } = await pool.query<{ schema: string }>(role.schemaTables.schemasQuery).catch((err: { code?: string }) => {
        if (err.code === '42P01') return { rows: [] as { schema: string }[] }; // its catalogue is not migrated yet
        throw err;
      });
      for (const { schema } of rows) {
        const s = quoteIdent(schema);
        await pool.query(`GRANT USAGE ON SCHEMA ${s} TO ${ident}`);
        await pool.query(`GRANT ${role.schemaTables.privileges.join(', ')} ON ALL TABLES IN SCHEMA ${s} TO ${ident}`);
      }
    }
  }
  // Identity and serial columns' sequences: whoever may insert into a table may draw its next value.
  const writers = roles.filter((r) => (r.tables?.INSERT?.length ?? 0) > 0).map((r) => checkName(r.name));
  if (writers.length > 0) await pool.query(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${writers.join(', ')}`);
}
