import { runService, startService } from '@orrange/http';
import { createLogger, type Logger } from '@orrange/logger';
import { runClustered } from '@orrange/runtime/cluster';
import { createApp } from './app';
import { createGateway } from './composition';
import { readConfig, type Config } from './config';

/**
 * Composition root: config → GATEWAY_WORKERS processes (or this one), each with its own Redis connections,
 * upstream pools and app → listen → graceful shutdown. What a worker keeps in memory (rate-limit leases, the
 * token and API-key caches, in-flight counts) is its own, which is correct: every hit it lets through was
 * taken from Redis first, and every cache is kept right by Redis or expires within seconds.
 */
async function main(): Promise<void> {
  const config = readConfig();
  const logger = createLogger('gateway', config.LOG_LEVEL);
  await runClustered(config.GATEWAY_WORKERS, () => startWorker(config, logger), logger, {
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  });
}

/** One gateway: its connections and pools, the app over them, listening until SIGTERM/SIGINT. */
async function startWorker(config: Config, logger: Logger): Promise<void> {
  const gateway = createGateway(config, { logger });
  gateway.start();
  await runService({
    app: createApp(gateway),
    port: config.PORT,
    host: config.HOST,
    logger,
    closers: [() => gateway.close()],
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  });
}

startService('gateway', main);
