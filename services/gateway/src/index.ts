import { runService } from '@orrange/http';
import { createApp } from './app';
import { readConfig } from './config';
import { createGatewayResources } from './gateway';

/** Composition root: config → Redis, upstream pools → app → listen → graceful shutdown. */
async function main(): Promise<void> {
  const config = readConfig();
  const resources = createGatewayResources(config);
  resources.upstreams.start();
  await runService({
    app: createApp({ config, ...resources }),
    port: config.PORT,
    host: config.HOST,
    logger: resources.logger,
    closers: [() => resources.close()],
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  });
}

main().catch((error: unknown) => {
  console.error(JSON.stringify({ level: 'error', service: 'gateway', message: 'failed to start', error: error instanceof Error ? error.message : String(error) }));
  process.exit(1);
});
