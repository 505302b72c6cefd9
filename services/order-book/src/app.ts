import type { Express } from 'express';
import { createRuntimeApp } from '@orrange/runtime';
import { openapi } from './api/openapi';
import { marketsRouter } from './api/markets.routes';
import { ordersRouter } from './api/orders.routes';
import type { OrderBookService } from './composition';

/** Builds the order-book service's express app over the service (createOrderBookService). Never listens: index.ts does, and tests use supertest. */
export function createApp({ runtime, deps, bookCache }: OrderBookService): Express {
  return createRuntimeApp(runtime, { openapi }, (app) => {
    app.use(ordersRouter({ db: runtime.db, deps, bookCache, live: (events) => runtime.live.publish(events) }));
    app.use(marketsRouter({ db: runtime.db, deps }));
  });
}
