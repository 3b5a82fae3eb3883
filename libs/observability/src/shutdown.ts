import type { Logger } from './logger';

export interface ShutdownStep {
  name: string;
  run: () => Promise<void>;
}

/**
 * Runs the steps in order on SIGTERM/SIGINT (or when called), all of them
 * under one deadline; past the deadline the process exits non-zero so the
 * supervisor knows the shutdown was not clean. A second signal exits at once.
 */
export function installShutdown(options: {
  logger: Logger;
  deadlineMs: number;
  steps: () => ShutdownStep[];
  exit?: (code: number) => void;
}): (reason: string, exitCode?: number) => Promise<void> {
  const { logger, deadlineMs } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let started = false;

  const shutdown = async (reason: string, exitCode = 0): Promise<void> => {
    if (started) {
      logger.warn({ reason }, 'second shutdown request; exiting now');
      exit(1);
      return;
    }
    started = true;
    logger.info({ reason, deadlineMs }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ deadlineMs }, 'shutdown deadline passed; exiting');
      exit(1);
    }, deadlineMs);
    timer.unref();
    let code = exitCode;
    for (const step of options.steps()) {
      try {
        await step.run();
        logger.debug({ step: step.name }, 'shutdown step done');
      } catch (err) {
        code = 1;
        logger.error({ err, step: step.name }, 'shutdown step failed');
      }
    }
    clearTimeout(timer);
    logger.info({ code }, 'stopped');
    exit(code);
  };

  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  return shutdown;
}
