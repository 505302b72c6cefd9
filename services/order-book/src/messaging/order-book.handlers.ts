import type { EventHandlers } from '@orrange/queue';
import type { OrderBookDeps } from '../domain/order-book.deps';
import { openFundedOrder, rejectUnfundedOrder, restoreRejectedMatch } from '../domain/order-funding.use-case';

/**
 * The order-book's queue: trade-execution's answers about holds and matches. `deps` is a getter because the
 * runtime that owns the consumer is built with these handlers, before the dependencies that need it.
 */
export function orderBookHandlers(deps: () => OrderBookDeps): EventHandlers {
  return {
    'hold.placed': async (event, tx) => {
      await openFundedOrder(deps(), tx, event.payload.orderId);
    },
    'hold.rejected': async (event, tx) => {
      await rejectUnfundedOrder(tx, event.payload.orderId, event.payload.reason);
    },
    'match.rejected': async (event, tx) => {
      await restoreRejectedMatch(deps(), tx, event.payload.matchId);
    },
  };
}
