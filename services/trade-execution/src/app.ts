import type { Express } from 'express';
import { createRuntimeApp } from '@orrange/runtime';
import { CUSTODY_WEBHOOK_PATH, custodyRouter, WEBHOOK_BODY_LIMIT } from './api/custody.routes';
import { openapi } from './api/openapi';
import { statsRouter } from './api/stats.routes';
import { tradesRouter } from './api/trades.routes';
import { walletRouter } from './api/wallet.routes';
import type { TradeExecutionService } from './composition';

/** Builds the trade-execution service's express app. Never listens: index.ts does, and tests use supertest. */
export function createApp(service: TradeExecutionService): Express {
  const rawBody = { paths: [CUSTODY_WEBHOOK_PATH], limit: WEBHOOK_BODY_LIMIT };
  return createRuntimeApp(service.runtime, { openapi, rawBody }, (app) => {
    app.use(walletRouter(service));
    app.use(custodyRouter(service));
    app.use(tradesRouter(service));
    app.use(statsRouter(service));
  });
}
