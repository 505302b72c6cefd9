import { lockAndLoadOrder } from '../data/order.repository';
import { closeLockedOrder } from './cancel-order.use-case';
import { CANCELLABLE_STATUSES } from './order';
import type { OrderBookDeps } from './order-book.deps';

/**
 * An order past its expiresAt becomes EXPIRED (terminal, like CANCELLED), and a SELL's hold gives back exactly its
 * remainder in the same transaction, under the market lock (as a cancel does: closeLockedOrder). Fired by the expiry
 * sweeper; an order that was filled, cancelled, expired by another replica, or given a later expiresAt meanwhile is
 * left alone, so however many paths fire it, it expires once. Returns whether this call expired it.
 */
export async function expireOrder(deps: OrderBookDeps, orderId: string): Promise<boolean> {
  const result = await deps.db.transaction(
    async (tx) => {
      const { order: before } = await lockAndLoadOrder(tx, orderId);
      if (
        !before ||
        !CANCELLABLE_STATUSES.includes(before.status) ||
        !before.expiresAt ||
        before.expiresAt.getTime() > Date.now()
      )
        return undefined;
      return closeLockedOrder(tx, before, 'EXPIRED');
    },
    { retryable: true },
  );
  if (!result) return false;
  deps.bookChanged(result.order.asset, result.order.fiatCurrency, result.sequence);
  return true;
}
