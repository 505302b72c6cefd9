import { randomUUID } from 'node:crypto';
import { parsePayload } from '@orrange/queue';
import { insertPendingOrder } from '../data/order.repository';
import { matchBatch, type Placed } from './match-batch';
import { formatAmount, type Order } from './order';
import type { OrderBookDeps } from './order-book.deps';

/** How many incoming BUY orders of one market share one transaction (one lock, one write, one commit). */
export const BATCH_ORDERS_MAX = 64;

/** What the owner chooses of an order; the rest (id, remainder, status, seq, times) is set on placing it. */
export type PlaceOrderInput = Pick<Order, 'userId' | 'side' | 'asset' | 'fiatCurrency' | 'price' | 'amount' | 'minFill' | 'paymentMethods' | 'paymentWindowMinutes' | 'terms'>;

/**
 * A SELL order waits for its hold (PENDING_FUNDS, `order.placed` in the same statement); trade-execution's
 * `hold.placed` opens and matches it later. A BUY order needs no funds: it is matched at once under the
 * market lock (together with the other BUY orders of its market that arrived meanwhile, see MarketBatcher)
 * and rests with whatever is left.
 */
export async function placeOrder(deps: OrderBookDeps, input: PlaceOrderInput): Promise<Placed> {
  const now = new Date();
  const order: Order = { ...input, id: randomUUID(), remaining: input.amount, status: input.side === 'SELL' ? 'PENDING_FUNDS' : 'OPEN', rejectReason: null, seq: 0n, createdAt: now, updatedAt: now };
  if (order.side === 'SELL') {
    const event = { id: randomUUID(), type: 'order.placed', payload: parsePayload('order.placed', { orderId: order.id, userId: order.userId, side: order.side, asset: order.asset, amount: formatAmount(order.asset, order.amount) }) };
    // One statement, atomic on its own: the order and its event, one round trip.
    const placed = await insertPendingOrder(deps.db, order, event);
    deps.eventsWritten();
    return { order: placed, fills: [] };
  }
  return deps.batcher.submit(order);
}

interface Pending {
  order: Order;
  resolve: (placed: Placed) => void;
  reject: (error: unknown) => void;
}

/**
 * Incoming BUY orders queue per market in this replica; one transaction at a time per market drains them in
 * arrival order: one market lock, one candidate read, the engine for each order in turn against what the
 * earlier ones left, one write, one commit for up to BATCH_ORDERS_MAX orders. A lone order goes at once
 * (no waiting for company): batches form only while a transaction of the market is already running.
 */
export class MarketBatcher {
  private readonly queues = new Map<string, { pending: Pending[]; running: boolean }>();

  constructor(private readonly deps: () => OrderBookDeps) {}

  submit(order: Order): Promise<Placed> {
    const key = `${order.asset}/${order.fiatCurrency}`;
    const queue = this.queues.get(key) ?? { pending: [], running: false };
    this.queues.set(key, queue);
    const placed = new Promise<Placed>((resolve, reject) => queue.pending.push({ order, resolve, reject }));
    if (!queue.running) void this.drain(queue);
    return placed;
  }

  private async drain(queue: { pending: Pending[]; running: boolean }): Promise<void> {
    queue.running = true;
    try {
      while (queue.pending.length > 0) {
        const batch = queue.pending.splice(0, BATCH_ORDERS_MAX);
        const deps = this.deps();
        try {
          const matched = await deps.db.transaction((tx) => matchBatch(tx, batch.map((p) => p.order), 'insert', false), { retryable: true });
          // Orders the batch could not decide go first in the next one.
          queue.pending.unshift(...batch.slice(matched.placed.length));
          matched.placed.forEach((placed, i) => batch[i]!.resolve(placed));
          const { asset, fiatCurrency } = matched.placed[0]!.order;
          deps.bookChanged(asset, fiatCurrency, matched.sequence);
          if (matched.placed.some((p) => p.fills.length > 0)) deps.eventsWritten();
        } catch (error) {
          for (const p of batch) p.reject(error);
        }
      }
    } finally {
      queue.running = false;
    }
  }
}
