import type { SqlRunner } from '@orrange/db';
import { conflict, notFound } from '@orrange/http';
import { releaseSellHoldCall } from '@orrange/queue';
import { closeAndBump, lockAndLoadOrder, type OrderWritten } from '../data/order.repository';
import { CANCELLABLE_STATUSES, formatAmount, type Order } from './order';
import type { OrderBookDeps } from './order-book.deps';

/**
 * The owner cancels an order that is open or partly filled (see closeLockedOrder). Anyone else gets 404: an order's
 * existence is not revealed by this.
 */
export async function cancelOrder(deps: OrderBookDeps, userId: string, orderId: string): Promise<Order> {
  const result = await deps.db.transaction(
    async (tx) => {
      const { order: before } = await lockAndLoadOrder(tx, orderId);
      if (!before || before.userId !== userId) throw notFound('ORDER.NOT_FOUND', 'No such order.');
      if (!CANCELLABLE_STATUSES.includes(before.status))
        throw conflict('ORDER.INVALID_STATE', 'Only pending, open or partly filled orders can be cancelled.');
      return closeLockedOrder(tx, before, 'CANCELLED');
    },
    { retryable: true },
  );
  deps.bookChanged(result.order.asset, result.order.fiatCurrency, result.sequence);
  return result.order;
}

/**
 * Closes an order the caller has locked (market and row), as its owner's cancel or its expiry: a SELL order's hold
 * gives back exactly its unfilled remainder in the same transaction (trade-execution's release_sell_hold), under the
 * market lock, so no match can take from it meanwhile and no event can be lost between the two.
 */
export async function closeLockedOrder(
  tx: SqlRunner,
  before: Order,
  status: 'CANCELLED' | 'EXPIRED',
): Promise<OrderWritten> {
  const release =
    before.side === 'SELL'
      ? releaseSellHoldCall({
          orderId: before.id,
          userId: before.userId,
          asset: before.asset,
          remaining: formatAmount(before.asset, before.remaining),
        })
      : undefined;
  const closed = await closeAndBump(tx, before, status, release);
  if (release && closed.holdOutcome !== 'OK')
    throw new Error(`ledger invariant: the hold of order ${before.id} answered ${closed.holdOutcome} to its release`);
  return closed;
}
