import { Counter, Histogram, type Registry } from 'prom-client';
import type { Logger } from '@orrange/logger';
import { createRuntime, type Service, type Sweeper } from '@orrange/runtime';
import { SCHEMA, settingsOf, type Config } from './config';
import { BookCache } from './data/book-cache';
import { MarketRulesCache } from './data/market-rules-cache';
import type { OrderBookDeps } from './domain/order-book.deps';
import { MarketBatcher, type BatchObserver } from './domain/place-order.use-case';
import { orderExpirySweeper } from './messaging/expiry-sweeper';

export interface OrderBookService extends Service {
  deps: OrderBookDeps;
  bookCache: BookCache;
  /** Expires orders past their expiresAt (started with the runtime; tests sweep with sweepNow). */
  expiry: Sweeper;
}

/**
 * The order-book service: its runtime (it consumes no queue: holds and trades are opened inside its own transactions
 * through trade-execution's SQL functions), the book cache, the market rules refreshed while it runs, and the order
 * expiry sweeper. index.ts and the test harness (and its replicas) all build it here.
 */
export function createOrderBookService(config: Config, overrides: { logger?: Logger } = {}): OrderBookService {
  // Every statement of the order path finds its rows through an index, and keeps its plan for the connection's life:
  // none may become a walk of the whole history because "orders" was small when it was planned.
  const runtime = createRuntime({
    service: 'order-book',
    schema: SCHEMA,
    config,
    logger: overrides.logger,
    indexPlansOnly: true,
  });
  const bookCache = new BookCache({
    db: runtime.db,
    redis: runtime.redis,
    prefix: config.REDIS_PREFIX,
    logger: runtime.logger,
  });
  const settings = settingsOf(config);
  const tradesOpened = new Counter({
    name: 'trades_opened_total',
    help: "Trades opened with their escrow locked, in this service's transactions",
    labelNames: ['asset'],
    registers: [runtime.registry],
  });
  const deps: OrderBookDeps = {
    db: runtime.db,
    bookChanged: (asset, fiatCurrency, sequence) => bookCache.changed(asset, fiatCurrency, sequence),
    tradesOpened: (asset, count) => tradesOpened.inc({ asset }, count),
    batcher: new MarketBatcher(() => deps, {
      windowMs: settings.batchWindowMs,
      observe: batchMetrics(runtime.registry),
    }),
    limits: settings.limits,
    markets: new MarketRulesCache({ db: runtime.db, logger: runtime.logger, ...settings.marketRules }),
  };
  const expiry = orderExpirySweeper(deps, {
    intervalMs: settings.expirySweepMs,
    logger: runtime.logger,
    registry: runtime.registry,
  });
  runtime.sweepers.push(expiry);
  return {
    runtime,
    deps,
    bookCache,
    expiry,
    async start() {
      runtime.start();
      deps.markets.start();
    },
    async close() {
      deps.markets.stop();
      await runtime.close();
    },
  };
}

/** Batch sizes and windows on /metrics: whether ORDER_BATCH_WINDOW_MS opens, and what a transaction carries. */
function batchMetrics(registry: Registry): BatchObserver {
  const windows = new Counter({
    name: 'order_batch_windows_total',
    help: 'Orders that found their market queue empty and waited ORDER_BATCH_WINDOW_MS for company (markets whose orders come close together)',
    registers: [registry],
  });
  const orders = new Histogram({
    name: 'order_batch_orders',
    help: 'Orders per placing transaction of one market (at most 64)',
    buckets: [1, 2, 4, 8, 16, 32, 64],
    registers: [registry],
  });
  return { windowOpened: () => windows.inc(), batchStarted: (count) => orders.observe(count) };
}
