import { defineConfig } from 'drizzle-kit';

// The projector's own tables (versions, checkpoints, parked records); each projection keeps its own migration set.
// Regenerate with: npx drizzle-kit generate --config services/projector/drizzle.config.ts --name <change>
export default defineConfig({
  dialect: 'postgresql',
  schema: [
    './services/projector/src/checkpoints/table.ts',
    './services/projector/src/store/tables.ts',
    './services/projector/src/snapshots/table.ts',
  ],
  out: './services/projector/migrations',
});
