import type { Express } from 'express';
import { createServiceApp } from '@orrange/http';
import { openapi } from './api/openapi';
import { statsRouter } from './api/stats.routes';
import { tradesRouter } from './api/trades.routes';
import { walletRouter } from './api/wallet.routes';
import type { TradeExecution } from './composition';

/** Builds the trade-execution service's express app. Never listens: index.ts does, and tests use supertest. */
export function createApp(service: TradeExecution): Express {
  const { runtime } = service;
  return createServiceApp(
    { logger: runtime.logger, registry: runtime.registry, checks: runtime.checks, internalTokenSecret: runtime.config.INTERNAL_TOKEN_SECRET, openapi },
    (app) => {
      app.use(walletRouter(service));
      app.use(tradesRouter(service));
      app.use(statsRouter(service));
    },
  );
}
