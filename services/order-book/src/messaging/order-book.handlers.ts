import type { BulkEventHandlers, EventHandlers } from '@orrange/queue';
import type { OrderBookDeps } from '../domain/order-book.deps';
import { openFundedOrders, rejectUnfundedOrder, restoreRejectedMatch } from '../domain/order-funding.use-case';

/**
 * The order-book's queue: trade-execution's answers about holds and matches. `hold.placed` is applied in
 * bulk: a group of them (see CONSUMER_OPTIONS) costs a few round trips per market instead of a few per event.
 * `deps` is a getter because the runtime that owns the consumer is built with these handlers, before the
 * dependencies that need it.
 */
export function orderBookHandlers(deps: () => OrderBookDeps): { handlers: EventHandlers; bulkHandlers: BulkEventHandlers } {
  return {
    handlers: {
      'hold.rejected': async (event, tx) => {
        await rejectUnfundedOrder(tx, event.payload.orderId, event.payload.reason);
      },
      'match.rejected': async (event, tx) => {
        await restoreRejectedMatch(deps(), tx, event.payload.matchId);
      },
    },
    bulkHandlers: {
      'hold.placed': async (events, tx) => {
        await openFundedOrders(deps(), tx, events.map((event) => event.payload.orderId));
      },
    },
  };
}
