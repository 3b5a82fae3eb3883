import type { DatabaseRole, TablePrivilege } from '@sluice/db';

const RW: TablePrivilege[] = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'];
const COMMAND_TABLES = ['wallets', 'deposits', 'withdrawals', 'idempotency_keys', 'inbox'];
const readWrite = (...tables: string[]) => ({ SELECT: tables, INSERT: tables, UPDATE: tables, DELETE: tables });

/**
 * Owns the platform's database and every table in it: runs the migrations and
 * creates the outbox's publication and slot (sluice migrate), so it needs
 * REPLICATION for pg_create_logical_replication_slot. No service runs as it.
 */
export const OWNER_ROLE: DatabaseRole = { name: 'sluice_owner', replication: true };

/** Each service's database role: its own tables, and what it reads of others'. No DDL for any of them. */
export const SERVICE_ROLES = {
  'command-api': {
    name: 'sluice_command_api',
    tables: {
      // The outbox is written, never updated; the relay prunes it. DELETE stays for writers of the
      // previous release (they deleted the row in the inserting transaction) during a rolling upgrade.
      // The audit log is appended to and read, never changed: no UPDATE or DELETE (a trigger refuses them too).
      SELECT: [...COMMAND_TABLES, 'outbox', 'audit_log'],
      INSERT: [...COMMAND_TABLES, 'outbox', 'audit_log'],
      UPDATE: COMMAND_TABLES,
      DELETE: [...COMMAND_TABLES, 'outbox'],
    },
  },
  'outbox-relay': {
    name: 'sluice_outbox_relay',
    // Streams the slot (replication connection) and emits heartbeat messages into the WAL.
    replication: true,
    tables: {
      SELECT: ['relay_checkpoints', 'outbox'],
      INSERT: ['relay_checkpoints'],
      UPDATE: ['relay_checkpoints'],
      // Polling mode deletes the rows it published.
      DELETE: ['relay_checkpoints', 'outbox'],
    },
  },
  projector: {
    name: 'sluice_projector',
    tables: readWrite(
      'projections',
      'projection_versions',
      'projection_checkpoints',
      'projection_parked',
      'projector_checkpoints',
    ),
    // The read models' tables live in one schema per version (see projection_versions).
    schemaTables: { schemasQuery: 'SELECT DISTINCT schema_name AS schema FROM public.projection_versions', privileges: RW },
  },
  'query-api': {
    name: 'sluice_query_api',
    tables: {
      SELECT: [
        'wallet_balances',
        'wallet_transactions',
        'withdrawal_status',
        'projections',
        'projection_versions',
        'projection_checkpoints',
      ],
    },
  },
  'payments-worker': {
    name: 'sluice_payments_worker',
    tables: readWrite('payment_sagas', 'payment_commands', 'psp_webhook_inbox'),
  },
  // Keeps no tables: it reads events from Kafka and sends commands there. Its role can connect, no more.
  'bonus-service': { name: 'sluice_bonus_service' },
} as const satisfies Record<string, DatabaseRole>;

export type ServiceWithRole = keyof typeof SERVICE_ROLES;

/** Every role of the platform, the owner first. */
export const DATABASE_ROLES: readonly DatabaseRole[] = [OWNER_ROLE, ...Object.values(SERVICE_ROLES)];

/** `url` connecting as `role` (the password, if any, left out: local PostgreSQL trusts 127.0.0.1). */
export function databaseUrlAs(url: string, role: string): string {
  const u = new URL(url);
  u.username = role;
  u.password = '';
  return u.toString();
}
