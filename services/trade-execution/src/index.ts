import { startService } from '@orrange/http';
import { serve } from '@orrange/runtime';
import { createApp } from './app';
import { createTradeExecutionService } from './composition';
import { readConfig } from './config';

/** Composition root: config → the service (runtime, consumer, sweepers) → app → listen → graceful shutdown. */
async function main(): Promise<void> {
  const config = readConfig();
  const service = createTradeExecutionService(config);
  await serve(service, createApp(service), config.PORT);
}

startService('trade-execution', main);
