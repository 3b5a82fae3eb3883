import { defineConfig } from 'drizzle-kit';

// Regenerate with: npx drizzle-kit generate --config projections/withdrawals/drizzle.config.ts --name <change>
export default defineConfig({
  dialect: 'postgresql',
  schema: ['./projections/withdrawals/src/table.ts'],
  out: './projections/withdrawals/migrations',
});
