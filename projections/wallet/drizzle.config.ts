import { defineConfig } from 'drizzle-kit';

// Regenerate with: npx drizzle-kit generate --config projections/wallet/drizzle.config.ts --name <change>
export default defineConfig({
  dialect: 'postgresql',
  schema: ['./projections/wallet/src/table.ts'],
  out: './projections/wallet/migrations',
});
