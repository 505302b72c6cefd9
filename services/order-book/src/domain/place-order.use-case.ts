import { randomUUID } from 'node:crypto';
import type { Asset, FiatCurrency } from '@orrange/money';
import { parsePayload, type SqlExecutor } from '@orrange/queue';
import { insertPendingOrder, lockAndLoadCandidates, writeMatches } from '../data/order.repository';
import { matchOrder } from './matching-engine';
import { matchBetween, matchedEvent, fillView } from './match-records';
import { formatAmount, statusForRemaining, toMatchable, type FillView, type Order, type Side } from './order';
import type { OrderBookDeps } from './order-book.deps';

/** How many resting orders one matching pass loads (best first). Bounded so a pass is bounded. */
export const CANDIDATES_MAX = 100;

export interface PlaceOrderInput {
  userId: string;
  side: Side;
  asset: Asset;
  fiatCurrency: FiatCurrency;
  price: bigint;
  amount: bigint;
  minFill: bigint;
  paymentMethods: string[];
  paymentWindowMinutes: number;
  terms: string | null;
}

export interface Placed {
  order: Order;
  fills: FillView[];
}

/**
 * A SELL order waits for its hold (PENDING_FUNDS, `order.placed` in the same statement); trade-execution's
 * `hold.placed` opens and matches it later. A BUY order needs no funds: it is matched at once under the
 * market lock and rests with whatever is left.
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
  const matched = await deps.db.transaction(
    (tx) => matchIncoming(tx, order, 'insert'),
    { retryable: true },
  );
  afterMatching(deps, matched);
  return { order: matched.order, fills: matched.fills };
}

export interface Matched extends Placed {
  sequence: bigint;
}

/**
 * Matches an order that is entering the book (status OPEN) against the best resting orders and writes the
 * result in one statement: two statements in all, the first of which takes the market lock.
 */
export async function matchIncoming(tx: SqlExecutor, order: Order, write: 'insert' | 'update'): Promise<Matched> {
  const candidates = await lockAndLoadCandidates(tx, {
    asset: order.asset, fiatCurrency: order.fiatCurrency, side: order.side, limitPrice: order.price, userId: order.userId, paymentMethods: order.paymentMethods, limit: CANDIDATES_MAX,
  });
  const result = matchOrder(toMatchable(order), candidates.map(toMatchable));
  const makers = new Map(candidates.map((c) => [c.id, c]));
  const matches = result.fills.map((fill) => matchBetween(order, makers.get(fill.restingOrderId)!, fill));
  const status = statusForRemaining(order, result.remaining);
  const written = await writeMatches(
    tx,
    order,
    write === 'insert' ? { kind: 'insert', order: { ...order, remaining: result.remaining, status } } : { kind: 'update', orderId: order.id, remaining: result.remaining, status, asset: order.asset },
    matches,
    matches.map(matchedEvent),
  );
  if (written.makersUpdated !== matches.length || !written.incoming) throw new Error(`matching write guard failed for order ${order.id}: nothing was written`);
  return { order: written.incoming, fills: matches.map((m) => fillView(m, m.makerOrderId)), sequence: written.sequence };
}

export function afterMatching(deps: OrderBookDeps, matched: Matched): void {
  deps.bookChanged(matched.order.asset, matched.order.fiatCurrency, matched.sequence);
  if (matched.fills.length > 0) deps.eventsWritten();
}
