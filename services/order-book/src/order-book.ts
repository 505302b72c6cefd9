import type { EventEnvelope } from '@orrange/queue';
import type { Runtime, RuntimeOptions } from '@orrange/runtime';
import { BookCache } from './data/book-cache';
import type { OrderBookDeps } from './domain/order-book.deps';
import { MarketBatcher } from './domain/place-order.use-case';
import { orderBookHandlers } from './messaging/order-book.handlers';

export interface OrderBook {
  deps: OrderBookDeps;
  bookCache: BookCache;
}

const built = new WeakMap<Runtime, OrderBook>();

/** The order book's dependencies over one runtime, built once per runtime (the app and the consumer share them). */
export function orderBookOf(runtime: Runtime): OrderBook {
  let book = built.get(runtime);
  if (!book) {
    const bookCache = new BookCache({ db: runtime.db, redis: runtime.redis, prefix: runtime.config.REDIS_PREFIX, logger: runtime.logger });
    const deps: OrderBookDeps = {
      db: runtime.db,
      bookChanged: (asset, fiatCurrency, sequence) => bookCache.changed(asset, fiatCurrency, sequence),
      eventsWritten: () => runtime.relay.kick(),
      batcher: new MarketBatcher(() => deps),
    };
    book = { bookCache, deps };
    built.set(runtime, book);
  }
  return book;
}

/** The event handlers of a runtime that does not exist yet: they resolve its dependencies on first use. */
export function handlersFor(runtime: () => Runtime): Pick<RuntimeOptions, 'handlers' | 'bulkHandlers'> {
  return orderBookHandlers(() => orderBookOf(runtime()).deps);
}

/**
 * How the order book consumes its queue: `hold.placed` opens a SELL order under its market's lock, so those
 * events are applied in groups (one transaction, one lock wait and one commit for all that arrived meanwhile)
 * instead of each holding a pool connection while it queues for the lock, and the group is matched in bulk
 * (a few round trips per market, whatever its size). The concurrency is how many events a group can gather.
 */
export const CONSUMER_OPTIONS: Pick<RuntimeOptions, 'consumerConcurrency' | 'consumerBatchKey'> = {
  consumerConcurrency: 32,
  consumerBatchKey: (event: EventEnvelope) => (event.type === 'hold.placed' ? 'hold.placed' : undefined),
};
