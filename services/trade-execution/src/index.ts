import { serve } from '@orrange/runtime';
import { createApp } from './app';
import { createTradeExecution } from './composition';
import { readConfig } from './config';

/** Composition root: config → runtime (db, redis, outbox relay, consumer) and sweepers → app → listen → graceful shutdown. */
async function main(): Promise<void> {
  const config = readConfig();
  const service = createTradeExecution(config);
  await serve(service.runtime, createApp(service), config.PORT, [() => service.stop()], () => service.start());
}

main().catch((error: unknown) => {
  console.error(JSON.stringify({ level: 'error', service: 'trade-execution', message: 'failed to start', error: error instanceof Error ? error.message : String(error) }));
  process.exit(1);
});
