import { defineConfig } from 'drizzle-kit';

// The payments worker's own tables (sagas, command outbox, webhook inbox). Regenerate with: make migrations NAME=<change>
export default defineConfig({
  dialect: 'postgresql',
  schema: ['./services/payments-worker/src/db/schema.ts'],
  out: './services/payments-worker/migrations',
});
