import { releaseSellHoldCall } from '@orrange/queue';
import { closeAndBump, lockAndLoadOrder } from '../data/order.repository';
import { CANCELLABLE_STATUSES, formatAmount } from './order';
import type { OrderBookDeps } from './order-book.deps';

/**
 * An order past its expiresAt becomes EXPIRED (terminal, like CANCELLED), and a SELL's hold gives back exactly its
 * remainder in the same transaction, under the market lock (as a cancel does). Fired by the expiry sweeper; an order
 * that was filled, cancelled, expired by another replica, or given a later expiresAt meanwhile is left alone, so
 * however many paths fire it, it expires once. Returns whether this call expired it.
 */
export async function expireOrder(deps: OrderBookDeps, orderId: string): Promise<boolean> {
  const result = await deps.db.transaction(
    async (tx) => {
      const { order: before } = await lockAndLoadOrder(tx, orderId);
      if (!before || !CANCELLABLE_STATUSES.includes(before.status) || !before.expiresAt || before.expiresAt.getTime() > Date.now()) return undefined;
      const release = before.side === 'SELL' ? [releaseSellHoldCall({ orderId: before.id, userId: before.userId, asset: before.asset, remaining: formatAmount(before.asset, before.remaining) })] : [];
      const expired = await closeAndBump(tx, before, 'EXPIRED', release);
      const released = (expired.alongside[0]?.[0] as { outcome: string } | undefined)?.outcome;
      if (release.length > 0 && released !== 'OK') throw new Error(`ledger invariant: the hold of order ${before.id} answered ${released} to its release`);
      return expired;
    },
    { retryable: true },
  );
  if (!result) return false;
  deps.bookChanged(result.order.asset, result.order.fiatCurrency, result.sequence);
  return true;
}
