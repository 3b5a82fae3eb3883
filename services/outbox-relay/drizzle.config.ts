import { defineConfig } from 'drizzle-kit';

// The relay's own table (its checkpoint). Regenerate with: make migrations NAME=<change>
export default defineConfig({
  dialect: 'postgresql',
  schema: ['./services/outbox-relay/src/checkpoint/table.ts'],
  out: './services/outbox-relay/migrations',
});
