import { randomUUID } from 'node:crypto';
import type { Asset, FiatCurrency } from '@orrange/money';
import { parsePayload, type SqlExecutor } from '@orrange/queue';
import { insertPendingOrder, lockAndLoadCandidates, writeMatches, type MatchRecord } from '../data/order.repository';
import { crosses, FILLS_PER_ORDER_MAX, matchOrder, type MatchableOrder } from './matching-engine';
import { matchBetween, matchedEvent, fillView } from './match-records';
import { formatAmount, statusForRemaining, toMatchable, type FillView, type Order, type Side } from './order';
import type { OrderBookDeps } from './order-book.deps';

/** How many resting orders one matching pass loads (best first). Bounded so a pass is bounded. */
export const CANDIDATES_MAX = 200;
/**
 * How many resting orders the first, short read of a matching pass loads (plus one per order of a batch). A
 * pass whose short read was cut where it could matter reads again up to CANDIDATES_MAX, so the outcome is
 * the same as one long read; a deep book no longer costs every pass 200 parsed rows.
 */
export const CANDIDATES_FIRST_PAGE = 16;
/** How many incoming BUY orders of one market share one transaction (one lock, one write, one commit). */
export const BATCH_ORDERS_MAX = 64;

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
          const matched = await deps.db.transaction((tx) => matchBatch(tx, batch.map((p) => p.order)), { retryable: true });
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

/**
 * The decisions of a batch against `candidates` (a read of at most `limit`, best first). `cutMattered` when
 * the read was cut and an order might have matched beyond it: then only a longer read decides the same way
 * as reading everything up to CANDIDATES_MAX.
 */
function decideBatch(orders: Order[], candidates: Order[], limit: number): { decided: Array<{ order: Order; matches: MatchRecord[] }>; cutMattered: boolean } {
  // Orders beyond a cut read are priced at or beyond the last one read: only an order whose limit reaches that
  // price could have matched them.
  const cutAt = candidates.length === limit ? candidates[candidates.length - 1]!.price : undefined;
  const makers = new Map(candidates.map((c) => [c.id, c]));
  const book: MatchableOrder[] = candidates.map(toMatchable);
  const decided: Array<{ order: Order; matches: MatchRecord[] }> = [];
  for (const [index, order] of orders.entries()) {
    const result = matchOrder(toMatchable(order), book.filter((m) => m.remaining > 0n));
    const mightMatchBeyondCut = cutAt !== undefined && crosses(order, { price: cutAt }) && result.remaining > 0n && result.fills.length < FILLS_PER_ORDER_MAX;
    if (mightMatchBeyondCut && limit < CANDIDATES_MAX) return { decided, cutMattered: true };
    if (index > 0 && mightMatchBeyondCut) break;
    for (const fill of result.fills) book.find((m) => m.id === fill.restingOrderId)!.remaining -= fill.amount;
    const matches = result.fills.map((fill) => matchBetween(order, makers.get(fill.restingOrderId)!, fill));
    decided.push({ order: { ...order, remaining: result.remaining, status: statusForRemaining(order, result.remaining) }, matches });
  }
  return { decided, cutMattered: false };
}

/**
 * Matches a batch of incoming BUY orders of one market, in arrival order. The candidate read covers every
 * order of the batch (up to the highest limit, any payment method of any of them); the engine applies each
 * order's own limit, payment methods and owner. When the read was cut at CANDIDATES_MAX, an order whose limit
 * reaches the cut and that still has something left might have matched beyond it: it and the rest wait for
 * the next batch (a fresh read), except the first order, which is decided like a lone order. Returns the
 * decided prefix.
 */
export async function matchBatch(tx: SqlExecutor, orders: Order[]): Promise<{ placed: Placed[]; sequence: bigint }> {
  const first = orders[0]!;
  const read = (limit: number, marketLocked: boolean) =>
    lockAndLoadCandidates(tx, {
      asset: first.asset, fiatCurrency: first.fiatCurrency, side: first.side,
      limitPrice: orders.reduce((max, o) => (o.price > max ? o.price : max), 0n),
      userId: '',
      paymentMethods: [...new Set(orders.flatMap((o) => o.paymentMethods))],
      limit,
      marketLocked,
    });
  // A short read first (most batches need a few makers); when its cut could matter, the full read decides.
  const firstPageLimit = Math.min(CANDIDATES_MAX, CANDIDATES_FIRST_PAGE + orders.length);
  const short = decideBatch(orders, await read(firstPageLimit, false), firstPageLimit);
  const { decided } = short.cutMattered ? decideBatch(orders, await read(CANDIDATES_MAX, true), CANDIDATES_MAX) : short;
  const matches = decided.flatMap((d) => d.matches);
  const written = await writeMatches(tx, first, { kind: 'insert', orders: decided.map((d) => d.order) }, matches, matches.map(matchedEvent));
  const makersTouched = new Set(matches.map((m) => m.makerOrderId)).size;
  if (written.makersUpdated !== makersTouched || written.incoming.length !== decided.length) throw new Error(`matching write guard failed in ${first.asset}/${first.fiatCurrency}: nothing was written`);
  const stored = new Map(written.incoming.map((o) => [o.id, o]));
  return {
    placed: decided.map((d) => ({ order: stored.get(d.order.id)!, fills: d.matches.map((m) => fillView(m, m.makerOrderId)) })),
    sequence: written.sequence,
  };
}

export interface Matched extends Placed {
  sequence: bigint;
}

/**
 * Matches one order that enters the book now (a SELL whose hold was placed) against the best resting
 * orders and writes the result in one statement (the lock unless `marketLocked`, the read, the write).
 */
export async function matchIncoming(tx: SqlExecutor, order: Order, marketLocked = false): Promise<Matched> {
  const read = (limit: number, locked: boolean) =>
    lockAndLoadCandidates(tx, {
      asset: order.asset, fiatCurrency: order.fiatCurrency, side: order.side, limitPrice: order.price, userId: order.userId, paymentMethods: order.paymentMethods, limit, marketLocked: locked,
    });
  // A short read first; the engine takes the best acceptable maker at every step, so when it filled the order
  // (or made its most fills) within that prefix, the long read would give the same fills.
  let candidates = await read(CANDIDATES_FIRST_PAGE, marketLocked);
  let result = matchOrder(toMatchable(order), candidates.map(toMatchable));
  if (candidates.length === CANDIDATES_FIRST_PAGE && result.remaining > 0n && result.fills.length < FILLS_PER_ORDER_MAX) {
    candidates = await read(CANDIDATES_MAX, true);
    result = matchOrder(toMatchable(order), candidates.map(toMatchable));
  }
  const makers = new Map(candidates.map((c) => [c.id, c]));
  const matches = result.fills.map((fill) => matchBetween(order, makers.get(fill.restingOrderId)!, fill));
  const status = statusForRemaining(order, result.remaining);
  const written = await writeMatches(tx, order, { kind: 'update', orderId: order.id, remaining: result.remaining, status, asset: order.asset }, matches, matches.map(matchedEvent));
  if (written.makersUpdated !== matches.length || written.incoming.length !== 1) throw new Error(`matching write guard failed for order ${order.id}: nothing was written`);
  return { order: written.incoming[0]!, fills: matches.map((m) => fillView(m, m.makerOrderId)), sequence: written.sequence };
}

export function afterMatching(deps: OrderBookDeps, matched: Matched): void {
  deps.bookChanged(matched.order.asset, matched.order.fiatCurrency, matched.sequence);
  if (matched.fills.length > 0) deps.eventsWritten();
}
