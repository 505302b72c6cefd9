import { conflict, notFound } from '@orrange/http';
import { enqueueEvent } from '@orrange/queue';
import { bumpSequence, lockAndLoadOrder, transitionOrder } from '../data/order.repository';
import { CANCELLABLE_STATUSES, formatAmount, type Order } from './order';
import type { OrderBookDeps } from './order-book.deps';

/**
 * The owner cancels an order that is pending, open or partly filled. A SELL order's `order.cancelled`
 * carries the unfilled remainder, which is exactly what trade-execution still holds for it. BUY orders hold
 * nothing, so nothing is sent for them. Anyone else gets 404: an order's existence is not revealed by this.
 */
export async function cancelOrder(deps: OrderBookDeps, userId: string, orderId: string): Promise<Order> {
  const result = await deps.db.transaction(
    async (tx) => {
      const { order: before } = await lockAndLoadOrder(tx, orderId);
      if (!before || before.userId !== userId) throw notFound('ORDER.NOT_FOUND', 'No such order.');
      const order = await transitionOrder(tx, orderId, CANCELLABLE_STATUSES, 'CANCELLED');
      if (!order) throw conflict('ORDER.INVALID_STATE', 'Only pending, open or partly filled orders can be cancelled.');
      if (order.side === 'SELL') {
        await enqueueEvent(tx, 'order.cancelled', { orderId: order.id, userId: order.userId, side: order.side, asset: order.asset, remaining: formatAmount(order.asset, order.remaining) });
      }
      return { order, sequence: await bumpSequence(tx, order.asset, order.fiatCurrency) };
    },
    { retryable: true },
  );
  deps.bookChanged(result.order.asset, result.order.fiatCurrency, result.sequence);
  if (result.order.side === 'SELL') deps.eventsWritten();
  return result.order;
}
