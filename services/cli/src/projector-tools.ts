import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * `sluice projection …` and `sluice dlq …` are the projector's own tools: a
 * rebuild runs the projector's engine and the projections of the same build,
 * so they live with the projector and run in a process of their own. Ctrl-C
 * reaches that process (same terminal), which stops a rebuild gracefully; this
 * one waits for it and passes its exit code on.
 */
export function runProjectorTools(argv: readonly string[]): Promise<number> {
  const entry = join(__dirname, '../../projector/src/tools/main.js');
  if (!existsSync(entry)) return Promise.reject(new Error(`${entry} is missing: run \`make build\``));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--enable-source-maps', entry, ...argv], { stdio: 'inherit' });
    const ignore = () => undefined;
    process.on('SIGINT', ignore);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      process.off('SIGINT', ignore);
      resolve(code ?? (signal ? 128 + 2 : 1));
    });
  });
}
