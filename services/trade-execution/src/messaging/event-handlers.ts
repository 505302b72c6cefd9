import type { BulkEventHandler, EventEnvelope, EventHandlers, EventType } from '@orrange/queue';
import { setArbitrator } from '../data/trade.repository';
import { placeHolds, releaseHold } from '../domain/holds.use-cases';
import { expireTrade, openTrades, resolveTrade, type TradeDeps } from '../domain/trades.use-cases';

/**
 * The hottest events, applied in groups: one group of each type at a time, for all that arrive meanwhile. Each
 * has a bulk handler and nothing else has one (GroupedHandlers makes the compiler hold the two lists together).
 */
const GROUPED_TYPES = ['order.placed', 'order.matched'] as const satisfies readonly EventType[];
type GroupedHandlers = { [T in (typeof GROUPED_TYPES)[number]]: BulkEventHandler<T> };
const grouped: ReadonlySet<EventType> = new Set(GROUPED_TYPES);

/**
 * The consumer's batchKey: one key per grouped type, so a group holds events of one type only and costs a few
 * statements for all of them (see the bulk handlers); every other event is applied alone.
 */
export function batchKeyOf(event: EventEnvelope): string | undefined {
  return grouped.has(event.type) ? event.type : undefined;
}

/**
 * The trade-execution queue's handlers. Each runs inside the consumer's transaction together with the inbox
 * rows (a redelivered event changes nothing), and the money movements are idempotent on their own as well
 * (journal ids are derived from what they are for). Throwing retries the event later with backoff (a grouped
 * event alone). The bulk handlers decide for each event exactly as applying the group one by one would.
 */
export function createEventHandlers(deps: () => TradeDeps): { handlers: EventHandlers; bulkHandlers: GroupedHandlers } {
  return {
    handlers: {
      'order.cancelled': (event, tx) => releaseHold(tx, event.payload),
      'trade.payment-deadline': async (event, tx) => {
        await expireTrade(tx, event.payload.tradeId, deps());
      },
      'dispute.resolved': async (event, tx) => {
        await resolveTrade(tx, event.payload, deps());
      },
      'dispute.assigned': async (event, tx) => {
        // The trade.disputed that opened the case came from here, so the trade exists; if not, retry later.
        if (!(await setArbitrator(tx, event.payload.tradeId, event.payload.arbitratorId))) throw new Error(`dispute.assigned for unknown trade ${event.payload.tradeId}`);
      },
    },
    bulkHandlers: {
      'order.placed': (events, tx) => placeHolds(tx, events.map((e) => e.payload)),
      'order.matched': (events, tx) => openTrades(tx, events.map((e) => e.payload), deps()),
    },
  };
}
