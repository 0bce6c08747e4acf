/** Graceful stop on SIGINT/SIGTERM: run the cleanup once, then exit; a second signal exits at once. */
import type { Logger } from './log';

export function onShutdown(log: Logger, cleanup: () => Promise<void>): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info('stopping', { signal });
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    cleanup().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error('error while stopping', { err });
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
