import type { IdempotencyClaim } from '@orrange/http';
import type { Placed } from './match-batch';
import type { Order } from './order';

// The shapes the use cases and their dependencies share, in a module of their own so that order-book.deps.ts
// (which holds an OrderBatcher) and place-order.use-case.ts (which implements one) need not import each other.

/**
 * A request's Idempotency-Key, recorded in the transaction that places its order (claimed in the first round
 * trip, its success answer stored with the COMMIT), and how to render that answer.
 */
export interface KeyRecord<T> {
  claim: IdempotencyClaim;
  answer(result: T): unknown;
}

/** Takes a new order into its market's queue and settles once a batch placed (or refused) it: see MarketBatcher. */
export interface OrderBatcher {
  submit(order: Order, key?: KeyRecord<Placed>): Promise<Placed>;
}
