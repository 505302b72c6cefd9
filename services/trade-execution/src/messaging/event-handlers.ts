import type { EventHandlers } from '@orrange/queue';
import { setArbitrator } from '../data/trade.repository';
import { resolveTrade, type TradeDeps } from '../domain/trades.use-case';

/**
 * The trade-execution queue's handlers. Each runs inside the consumer's transaction together with the inbox
 * row (a redelivered event changes nothing), and the money movements are idempotent on their own as well
 * (journal ids are derived from what they are for). Throwing retries the event later with backoff. Holds,
 * their releases and trades are not here: order-book places, releases and opens them inside its own transactions
 * through this service's SQL functions (migration order_path_functions), and payment deadlines are swept from
 * their rows (deadline-sweeper.ts).
 */
export function createEventHandlers(deps: TradeDeps): EventHandlers {
  return {
    'dispute.resolved': async (event, tx) => {
      await resolveTrade(tx, event.payload, deps);
    },
    'dispute.assigned': async (event, tx) => {
      // The trade.disputed that opened the case came from here, so the trade exists; if not, retry later.
      if (!(await setArbitrator(tx, event.payload.tradeId, event.payload.arbitratorId)))
        throw new Error(`dispute.assigned for unknown trade ${event.payload.tradeId}`);
    },
  };
}
