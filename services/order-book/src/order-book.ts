import { Counter } from 'prom-client';
import type { Runtime, Sweeper } from '@orrange/runtime';
import { settingsOf } from './config';
import { MarketRulesCache } from './data/market-rules-cache';
import { orderExpirySweeper } from './messaging/expiry-sweeper';
import { BookCache } from './data/book-cache';
import type { OrderBookDeps } from './domain/order-book.deps';
import { MarketBatcher } from './domain/place-order.use-case';

export interface OrderBook {
  deps: OrderBookDeps;
  bookCache: BookCache;
  /** Expires orders past their expiresAt (started by index.ts; tests sweep with sweepNow). */
  expiry: Sweeper;
}

const built = new WeakMap<Runtime, OrderBook>();

/** The order book's dependencies over one runtime, built once per runtime. */
export function orderBookOf(runtime: Runtime): OrderBook {
  let book = built.get(runtime);
  if (!book) {
    const bookCache = new BookCache({ db: runtime.db, redis: runtime.redis, prefix: runtime.config.REDIS_PREFIX, logger: runtime.logger });
    const settings = settingsOf(runtime.config);
    const tradesOpened = new Counter({ name: 'trades_opened_total', help: 'Trades opened with their escrow locked, in this service\'s transactions', labelNames: ['asset'], registers: [runtime.registry] });
    const deps: OrderBookDeps = {
      db: runtime.db,
      bookChanged: (asset, fiatCurrency, sequence) => bookCache.changed(asset, fiatCurrency, sequence),
      tradesOpened: (asset, count) => tradesOpened.inc({ asset }, count),
      batcher: new MarketBatcher(() => deps),
      limits: settings.limits,
      markets: new MarketRulesCache({ db: runtime.db, logger: runtime.logger, ...settings.marketRules }),
    };
    const expiry = orderExpirySweeper(deps, { intervalMs: settings.expirySweepMs, logger: runtime.logger, registry: runtime.registry });
    book = { bookCache, deps, expiry };
    built.set(runtime, book);
  }
  return book;
}
