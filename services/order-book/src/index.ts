import { createRuntime, serve, type Runtime } from '@orrange/runtime';
import { createApp } from './app';
import { readConfig, SCHEMA } from './config';
import { CONSUMER_OPTIONS, handlersFor } from './order-book';

/** Composition root: config → runtime (db, redis, outbox relay, consumer) → app → listen → graceful shutdown. */
async function main(): Promise<void> {
  const config = readConfig();
  const runtime: Runtime = createRuntime({ service: 'order-book', schema: SCHEMA, config, ...handlersFor(() => runtime), ...CONSUMER_OPTIONS });
  await serve(runtime, createApp({ runtime }), config.PORT);
}

main().catch((error: unknown) => {
  console.error(JSON.stringify({ level: 'error', service: 'order-book', message: 'failed to start', error: error instanceof Error ? error.message : String(error) }));
  process.exit(1);
});
