import { createRuntime, serve } from '@orrange/runtime';
import { createApp } from './app';
import { readConfig, SCHEMA } from './config';
import { orderBookOf } from './order-book';

/**
 * Composition root: config → runtime (db, redis, outbox relay) → app → listen → graceful shutdown, and the order
 * expiry sweeper and the market rules' refresh. The order book consumes no queue: holds and trades are opened inside its own transactions
 * (trade-execution's SQL functions).
 */
async function main(): Promise<void> {
  const config = readConfig();
  const runtime = createRuntime({ service: 'order-book', schema: SCHEMA, config });
  const { expiry, deps } = orderBookOf(runtime);
  const stop = async () => {
    deps.markets.stop();
    await expiry.stop();
  };
  await serve(runtime, createApp({ runtime }), config.PORT, [stop], () => {
    runtime.start();
    expiry.start();
    deps.markets.start();
  });
}

main().catch((error: unknown) => {
  console.error(JSON.stringify({ level: 'error', service: 'order-book', message: 'failed to start', error: error instanceof Error ? error.message : String(error) }));
  process.exit(1);
});
