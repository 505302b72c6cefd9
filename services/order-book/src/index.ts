import { startService } from '@orrange/http';
import { serve } from '@orrange/runtime';
import { createApp } from './app';
import { createOrderBookService } from './composition';
import { readConfig } from './config';

/**
 * Composition root: config → the service (runtime, order expiry sweeper, market rules' refresh) → app → listen →
 * graceful shutdown.
 */
async function main(): Promise<void> {
  const config = readConfig();
  const service = createOrderBookService(config);
  await serve(service, createApp(service), config.PORT);
}

startService('order-book', main);
