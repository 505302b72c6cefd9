import { createServer, type RequestListener, type Server } from 'node:http';
import type { Logger } from '@orrange/logger';

export interface RunOptions {
  /** An express app, or a listener in front of one (the gateway's admission). */
  app: RequestListener;
  port: number;
  host: string;
  logger: Logger;
  /** Closed in order after the server stops accepting: workers first, then relays, queues, pools. */
  closers: Array<() => Promise<unknown> | unknown>;
  shutdownTimeoutMs: number;
}

/**
 * Listens, and on SIGTERM/SIGINT stops accepting, lets in-flight requests finish, closes the given
 * resources in order and exits. A hung shutdown is cut off after `shutdownTimeoutMs`. Uncaught errors
 * are programmer errors: log them and exit non-zero so the supervisor restarts a clean process.
 */
export function runService(options: RunOptions): Promise<Server> {
  const { logger } = options;
  return new Promise((resolve) => {
    const server = createServer(options.app).listen(options.port, options.host, () => {
      const address = server.address();
      logger.info('listening', { port: typeof address === 'object' && address ? address.port : options.port });
      resolve(server);
    });
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info('shutting down', { signal });
      setTimeout(() => {
        logger.error('shutdown timed out');
        process.exit(1);
      }, options.shutdownTimeoutMs).unref();
      await new Promise<void>((done) => {
        server.close(() => done());
        server.closeIdleConnections();
      });
      for (const close of options.closers) {
        await Promise.resolve()
          .then(close)
          .catch((error) => logger.error('error while closing', { error: (error as Error).message }));
      }
      logger.info('stopped');
      process.exit(0);
    };
    process.once('SIGTERM', () => void stop('SIGTERM'));
    process.once('SIGINT', () => void stop('SIGINT'));
    process.on('uncaughtException', (error) => {
      logger.error('uncaught exception', { error: error.stack });
      process.exit(1);
    });
    process.on('unhandledRejection', (reason) => {
      logger.error('unhandled rejection', { error: reason instanceof Error ? reason.stack : String(reason) });
      process.exit(1);
    });
  });
}

/**
 * Runs a service's composition root. A failure to start (bad config, a port taken) happens before any logger
 * exists, so it is written here as one JSON line on stderr, and the process exits non-zero for its supervisor.
 */
export function startService(service: string, main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    console.error(
      JSON.stringify({
        level: 'error',
        service,
        message: 'failed to start',
        error: error instanceof Error ? error.message : String(error),
      }),
    );
    process.exit(1);
  });
}
