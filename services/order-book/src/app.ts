import type { Express } from 'express';
import { createServiceApp } from '@orrange/http';
import type { Runtime } from '@orrange/runtime';
import { openapi } from './api/openapi';
import { marketsRouter } from './api/markets.routes';
import { ordersRouter } from './api/orders.routes';
import { orderBookOf } from './order-book';

/** What the HTTP layer needs; built by index.ts, or by tests against their own database and Redis. */
export interface AppDeps {
  runtime: Runtime;
}

/** Builds the order-book service's express app. Never listens: index.ts does, and tests use supertest. */
export function createApp({ runtime }: AppDeps): Express {
  const { deps, bookCache } = orderBookOf(runtime);
  return createServiceApp(
    { logger: runtime.logger, registry: runtime.registry, checks: runtime.checks, internalTokenSecret: runtime.config.INTERNAL_TOKEN_SECRET, openapi },
    (app) => {
      app.use(ordersRouter({ db: runtime.db, deps, bookCache, live: (events) => runtime.live.publish(events) }));
      app.use(marketsRouter({ db: runtime.db, deps }));
    },
  );
}
