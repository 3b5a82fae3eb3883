import { defineConfig } from 'drizzle-kit';

// Regenerate with: npx drizzle-kit generate --config projections/transactions/drizzle.config.ts --name <change>
export default defineConfig({
  dialect: 'postgresql',
  schema: ['./projections/transactions/src/table.ts'],
  out: './projections/transactions/migrations',
});
