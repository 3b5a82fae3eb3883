import { defineConfig } from 'drizzle-kit';

// `make migrations` regenerates services/command-api/migrations from these tables.
export default defineConfig({
  dialect: 'postgresql',
  schema: ['./services/command-api/src/db/schema.ts', './libs/wallet-store/src/tables.ts', './libs/outbox/src/table.ts'],
  out: './services/command-api/migrations',
});
