import { serve } from '@orrange/runtime';
import { createApp } from './app';
import { readConfig } from './config';
import { createDisputeService } from './service';

/** Composition root: config → runtime (db, redis, outbox relay, consumer) → app → listen → graceful shutdown. */
async function main(): Promise<void> {
  const config = readConfig();
  const service = createDisputeService(config);
  await serve(service.runtime, createApp(service), config.PORT);
}

main().catch((error: unknown) => {
  console.error(JSON.stringify({ level: 'error', service: 'dispute', message: 'failed to start', error: error instanceof Error ? error.message : String(error) }));
  process.exit(1);
});
