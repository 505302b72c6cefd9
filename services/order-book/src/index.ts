import { createRuntime, serve } from '@orrange/runtime';
import { createApp } from './app';
import { readConfig, SCHEMA } from './config';

/**
 * Composition root: config → runtime (db, redis, outbox relay) → app → listen → graceful shutdown. The order book
 * consumes no queue: holds and trades are opened inside its own transactions (trade-execution's SQL functions).
 */
async function main(): Promise<void> {
  const config = readConfig();
  const runtime = createRuntime({ service: 'order-book', schema: SCHEMA, config });
  await serve(runtime, createApp({ runtime }), config.PORT);
}

main().catch((error: unknown) => {
  console.error(JSON.stringify({ level: 'error', service: 'order-book', message: 'failed to start', error: error instanceof Error ? error.message : String(error) }));
  process.exit(1);
});
