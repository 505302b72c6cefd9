import { randomUUID } from 'node:crypto';
import type { Tx } from '@orrange/db';
import {
  claimKeysStatement,
  conflict,
  IdempotencyKeyTaken,
  jsonAnswer,
  releaseKeysWithCommit,
  storeAnswersWithCommit,
  wasClaimed,
} from '@orrange/http';
import { ledgerOutcomes, sellHoldsJson } from '@orrange/queue';
import { admissionStatement, lockAndLoadCandidates, type Admission } from '../data/order.repository';
import { firstReadQueries, matchBatch, sideReads, stoppedAtCap, type Placed, type SideReads } from './match-batch';
import {
  buyerLimitsOf,
  buyerRefusal,
  buyerRoom,
  orderLimitReached,
  ordersOpenMax,
  tradesOpenMax,
  type BuyerLimits,
  type BuyerStanding,
  type Limits,
} from './limits';
import { marketRefusal } from './market-rules';
import { formatAmount, type Order } from './order';
import type { OrderBookDeps } from './order-book.deps';
import type { KeyRecord, OrderBatcher } from './order-batcher';

/** How many incoming orders of one market, BUYs and SELLs, share one transaction (one lock, one write, one commit). */
export const BATCH_ORDERS_MAX = 64;
/**
 * How many more matching rounds an order that stopped at FILLS_PER_ORDER_MAX gets in its transaction: up to
 * (1 + CONTINUATIONS_MAX) × FILLS_PER_ORDER_MAX fills per placement, so that it does not rest across the spread.
 */
export const CONTINUATIONS_MAX = 10;

/** What the owner chooses of an order (and their role's limits); the rest (id, remainder, status, seq, times) is set on placing it. */
export type PlaceOrderInput = Pick<
  Order,
  | 'userId'
  | 'side'
  | 'asset'
  | 'fiatCurrency'
  | 'price'
  | 'amount'
  | 'minFill'
  | 'paymentMethods'
  | 'paymentMethodIds'
  | 'paymentWindowMinutes'
  | 'terms'
  | 'minFiat'
  | 'maxFiat'
  | 'expiresAt'
  | 'merchant'
>;

/**
 * Places an order and matches it at once, under its market's lock (together with the other orders of its market
 * and side that arrived meanwhile, see MarketBatcher), and it rests with whatever is left. A SELL order's hold is
 * placed in the same transaction through trade-execution's place_sell_holds, and every fill's trade opens with its
 * escrow locked through open_trades: the answer carries the fills with their trade ids, all committed together.
 * A SELL the seller's balance cannot cover is refused (409 WALLET.INSUFFICIENT_FUNDS) and leaves nothing behind;
 * so is an order beyond its owner's open-order limit (409 ORDER.LIMIT_REACHED), and a BUY of a buyer who is
 * suspended (403 TRADE.BUYER_SUSPENDED) or has the most open trades allowed (409 TRADE.LIMIT_REACHED), and an order
 * outside its market's price band or below its minimum (422 ORDER.PRICE_OUT_OF_BAND, ORDER.BELOW_MINIMUM).
 */
export async function placeOrder(
  deps: OrderBookDeps,
  input: PlaceOrderInput,
  key?: KeyRecord<Placed>,
): Promise<Placed> {
  // The market's rules are in memory: a refused order costs no statement and never reaches the market's queue.
  const refusal = marketRefusal(
    deps.markets.rulesFor(input.asset, input.fiatCurrency),
    input.asset,
    input.price,
    input.amount,
  );
  if (refusal) throw refusal;
  const now = new Date();
  const order: Order = {
    ...input,
    id: randomUUID(),
    remaining: input.amount,
    status: 'OPEN',
    paused: false,
    rejectReason: null,
    seq: 0n,
    createdAt: now,
    updatedAt: now,
  };
  return deps.batcher.submit(order, key);
}

/** What became of each order of a batch, in order: placed (and matched), or refused with an error for its caller. */
type BatchOutcome = Placed | { refused: Error };

interface Incoming {
  order: Order;
  key?: KeyRecord<Placed>;
}

/**
 * Some orders of a batch with SELLs came with an Idempotency-Key taken already (a client's retry): the holds were
 * sent in the same round trip as the claims, so the transaction rolls back and the batch runs again without them.
 */
class KeysTaken extends Error {
  constructor(readonly indexes: number[]) {
    super('idempotency keys taken in a batch with SELL orders');
  }
}

/**
 * One transaction for a batch of one market, BUYs and SELLs in arrival order. The first round trip takes the market
 * lock, claims the requests' Idempotency-Keys, admits the orders within their owners' open-order limits (kept
 * exactly at the write, see admissionStatement), places the holds of the admitted SELL orders and reads the BUY
 * orders' buyers' standing, and reads the first candidates of each side; the orders whose key, slot, hold and
 * standing are theirs are then matched (matchInRounds), the last write going with the COMMIT and the success
 * answers: two round trips for most batches, whatever their sides.
 */
async function placeBatch(
  tx: Tx,
  batch: Incoming[],
  limits: Limits,
): Promise<{ outcomes: BatchOutcome[]; sequence: bigint | undefined }> {
  const orders = batch.map((b) => b.order);
  const repeated = repeatedKeys(batch);
  const claims = batch.flatMap((b, i) => (b.key && !repeated.has(i) ? [b.key.claim] : []));
  const admission = admissionStatement(
    orders.map((o) => ({ userId: o.userId, side: o.side, ordersMax: ordersOpenMax(limits, o.merchant) })),
    sellHoldsJson(
      orders
        .filter((o) => o.side === 'SELL')
        .map((o) => ({ orderId: o.id, userId: o.userId, asset: o.asset, amount: formatAmount(o.asset, o.amount) })),
    ),
    limits.buyerCancelsMax,
    { ordersMax: limits.ordersOpenMax, merchantOrdersMax: limits.merchantOrdersOpenMax },
  );
  const ahead = [...(claims.length > 0 ? [claimKeysStatement(claims)] : []), admission];
  const buyerLimits = buyerLimitsOf(limits);
  const queries = firstReadQueries(orders, false, buyerLimits);
  const read = await lockAndLoadCandidates(tx, queries, ahead);
  const claimed = claims.length > 0 ? read.ahead[0]! : [];
  const taken = batch.flatMap((b, i) => (b.key && (repeated.has(i) || !wasClaimed(claimed, b.key.claim)) ? [i] : []));
  if (taken.length > 0 && orders.some((o) => o.side === 'SELL')) throw new KeysTaken(taken);
  const admitted = read.ahead[ahead.length - 1]![0] as unknown as Admission;
  const standing = standingByBuyer(admitted);
  const refusals = admissionRefusals(orders, admitted, standing, limits);
  const rooms = buyerRooms(orders, standing, limits);

  const goes = (i: number) => refusals[i] === undefined && !taken.includes(i);
  // The answers commit with the orders; refused orders free their keys (their 409 is stored once sent).
  const answerWithCommit = (placed: Map<string, Placed>) => {
    storeAnswersWithCommit(
      tx,
      batch.flatMap((b) =>
        b.key && placed.has(b.order.id) ? [jsonAnswer(b.key.claim, 201, b.key.answer(placed.get(b.order.id)!))] : [],
      ),
    );
    releaseKeysWithCommit(
      tx,
      batch.flatMap((b, i) => (b.key && refusals[i] !== undefined && !taken.includes(i) ? [b.key.claim] : [])),
    );
  };
  const { placed, sequence } = await matchInRounds(
    tx,
    orders.filter((_, i) => goes(i)),
    { firstRead: sideReads(queries, read.reads), rooms, buyerLimits },
    answerWithCommit,
  );
  const outcomes = batch.map(
    (b, i): BatchOutcome =>
      taken.includes(i)
        ? { refused: new IdempotencyKeyTaken(b.key!.claim) }
        : refusals[i]
          ? { refused: refusals[i] }
          : placed.get(b.order.id)!,
  );
  return { outcomes, sequence };
}

/**
 * The orders of a batch whose Idempotency-Key an earlier order of the same batch carries (a client's retry that
 * caught up with its first attempt in the market's queue): the first claims the key, these find it taken, like a
 * retry in a later transaction. Claiming one key twice in one statement would fail the whole batch, every other
 * client's order with it.
 */
function repeatedKeys(batch: Incoming[]): Set<number> {
  const seen = new Set<string>();
  const repeated = new Set<number>();
  batch.forEach((b, i) => {
    if (!b.key) return;
    const id = `${b.key.claim.scope}\n${b.key.claim.key}`;
    if (seen.has(id)) repeated.add(i);
    seen.add(id);
  });
  return repeated;
}

/**
 * Why each order of a batch is refused, if it is: beyond its owner's open-order limit; a SELL its balance does not
 * cover; a BUY of a buyer who may not open trades now.
 */
function admissionRefusals(
  orders: Order[],
  admission: Admission,
  standing: Map<string, BuyerStanding>,
  limits: Limits,
): Array<Error | undefined> {
  const sells = orders.filter((o, i) => o.side === 'SELL' && admission.admitted[i]).length;
  const held = ledgerOutcomes(admission.outcomes, sells, 'place_sell_holds');
  let next = 0;
  return orders.map((order, i) => {
    if (!admission.admitted[i]) return orderLimitReached(ordersOpenMax(limits, order.merchant));
    if (order.side === 'BUY') return buyerRefusal(standing.get(order.userId), tradesOpenMax(limits, order.merchant));
    const outcome = held[next++]!;
    if (outcome === 'DUPLICATE') throw new Error(`ledger invariant: order ${order.id} was held before it was placed`);
    return outcome === 'OK'
      ? undefined
      : conflict('WALLET.INSUFFICIENT_FUNDS', 'Your available balance does not cover this SELL order.');
  });
}

/** How many more trades each owner of a BUY order of the batch may open (at the limit of their first BUY's role). */
function buyerRooms(orders: Order[], standing: Map<string, BuyerStanding>, limits: Limits): Map<string, number> {
  const rooms = new Map<string, number>();
  for (const order of orders)
    if (order.side === 'BUY' && !rooms.has(order.userId))
      rooms.set(order.userId, buyerRoom(standing.get(order.userId), tradesOpenMax(limits, order.merchant)));
  return rooms;
}

function standingByBuyer(admission: Admission): Map<string, BuyerStanding> {
  return new Map(
    admission.standing.map((s) => [
      s.userId,
      { openTrades: s.openTrades, suspendedUntil: s.suspendedUntil ? new Date(s.suspendedUntil) : null },
    ]),
  );
}

/**
 * Matches admitted orders (market locked) in rounds until every one is decided, in arrival order: usually one
 * round; more when a candidate read was cut where it mattered, or when an order stopped at the fill cap with
 * something left: it may cross the book still, so it matches again (as an order written already) before the
 * orders behind it, up to CONTINUATIONS_MAX more rounds each. Each round's write goes with the next round's read,
 * the last one's with the COMMIT, after `beforeCommit` deferred what must commit with it.
 */
async function matchInRounds(
  tx: Tx,
  orders: Order[],
  start: { firstRead: SideReads; rooms: Map<string, number>; buyerLimits: BuyerLimits },
  beforeCommit: (placed: Map<string, Placed>) => void,
): Promise<{ placed: Map<string, Placed>; sequence: bigint | undefined }> {
  const placed = new Map<string, Placed>();
  const record = (round: Placed[]) => {
    for (const p of round)
      placed.set(p.order.id, { order: p.order, fills: [...(placed.get(p.order.id)?.fills ?? []), ...p.fills] });
  };
  if (orders.length === 0) {
    beforeCommit(placed);
    return { placed, sequence: undefined };
  }
  // Runs still to match, first first: new orders are inserted, an order continuing after the cap is updated.
  const runs: Array<{ orders: Order[]; incoming: 'insert' | 'continue' }> = [{ orders, incoming: 'insert' }];
  const continuations = new Map<string, number>();
  let read: SideReads | undefined = start.firstRead;
  let rooms = start.rooms;
  let finished = false;
  while (runs.length > 0) {
    const run = runs[0]!;
    const next = (round: Placed[]) => {
      const last = round[round.length - 1]!;
      const rest = run.orders.slice(round.length);
      const again =
        stoppedAtCap(last.fills.length, last.order.remaining) &&
        (continuations.get(last.order.id) ?? 0) < CONTINUATIONS_MAX;
      return { rest, again: again ? last.order : undefined };
    };
    const matched = await matchBatch(tx, run.orders, {
      marketLocked: true,
      firstRead: read,
      incoming: run.incoming,
      rooms,
      buyerLimits: start.buyerLimits,
      sendWrite: (round, all) => {
        const { rest, again } = next(round);
        // Another round follows: its read carries this write.
        if (!all || rest.length > 0 || again !== undefined || runs.length > 1) return 'withNext';
        record(round);
        beforeCommit(placed);
        finished = true;
        return 'withCommit';
      },
    });
    read = undefined;
    rooms = matched.rooms;
    // The last write went with the COMMIT and was awaited: its sequence is there.
    if (finished) return { placed, sequence: await matched.sequence };
    record(matched.placed);
    const { rest, again } = next(matched.placed);
    runs.shift();
    if (rest.length > 0) runs.unshift({ orders: rest, incoming: run.incoming });
    if (again) {
      continuations.set(again.id, (continuations.get(again.id) ?? 0) + 1);
      runs.unshift({ orders: [again], incoming: 'continue' });
    }
  }
  // The round that empties `runs` is the one whose write commits, and it returned above.
  throw new Error('matching rounds ended without the write that commits');
}

interface Pending extends Incoming {
  resolve: (placed: Placed) => void;
  reject: (error: unknown) => void;
}

interface MarketQueue {
  pending: Pending[];
  /** A transaction of the market is running, or its window is open (`window` set). */
  running: boolean;
  window?: NodeJS.Timeout;
}

/** What an operator sees of the batching (order-book's /metrics). */
export interface BatchObserver {
  /** An order waits the window for company. */
  windowOpened(): void;
  /** A placing transaction starts with this many orders of one market. */
  batchStarted(orders: number): void;
}

/** Weight of each order in its market's share of close arrivals (see MarketBatcher). */
const CLOSE_SHARE_WEIGHT = 1 / 8;
/** A market's orders wait for company while at least this share of them arrived within the window of the one before. */
const CLOSE_SHARE_MIN = 1 / 4;

/** How a market's orders have been arriving, kept while the queue itself comes and goes. */
interface Arrivals {
  lastAt: number;
  /** Moving share of the market's orders that arrived within the window after the one before. */
  closeShare: number;
}

/**
 * Incoming orders queue per market in this replica; one transaction at a time per market drains them in arrival
 * order, BUYs and SELLs together: one market lock, one candidate read per side, the engine for each order in turn
 * against what the earlier ones left (the book's orders and the batch's own that rested), one write, one commit for
 * up to BATCH_ORDERS_MAX orders. Batches form while a transaction of the market runs, and in its window: an order
 * that finds its market's queue empty waits up to `windowMs` for company before its transaction starts, but only in
 * a market whose orders come close together (at least CLOSE_SHARE_MIN of them lately arrived within `windowMs` of
 * the one before: the window would have caught them). Elsewhere an order goes at once.
 *
 * Why: a transaction's fixed costs (its round trips, each a wake-up of Postgres and of this process, the lock, the
 * commit's WAL flush) dwarf an order's own. Measured at 300 orders/s over 8 markets (2026-12-05, 40 s steps): with the
 * bench's pairs arriving together (a SELL and its crossing BUY 3.3 ms apart), 4.66-4.74 ms of stack CPU and 1.2
 * commits per order without a window; with a window of 2 ms 4.34, 4 ms 3.97-4.07, 8 ms 3.81-3.88, 15 ms 3.77
 * (0.73-0.83 commits). With the pairs apart (a market's orders 26.7 ms apart) a window of 4 ms saved nothing (4.81
 * against 4.79 ms) and added its 4 ms to every order: hence only where orders come close together.
 */
export class MarketBatcher implements OrderBatcher {
  private readonly queues = new Map<string, MarketQueue>();
  /** Per market traded in this replica (a few dozen at most: the configured markets). */
  private readonly arrivals = new Map<string, Arrivals>();

  constructor(
    private readonly deps: () => OrderBookDeps,
    private readonly options: { windowMs: number; observe?: BatchObserver } = { windowMs: 0 },
  ) {}

  submit(order: Order, key?: KeyRecord<Placed>): Promise<Placed> {
    const market = `${order.asset}/${order.fiatCurrency}`;
    const queue = this.queues.get(market) ?? { pending: [], running: false };
    this.queues.set(market, queue);
    const placed = new Promise<Placed>((resolve, reject) => queue.pending.push({ order, key, resolve, reject }));
    const closeTogether = this.arrived(market);
    if (queue.running) {
      // It waits behind the market's transaction, or in its window, which a full batch closes at once.
      if (queue.window && queue.pending.length >= BATCH_ORDERS_MAX) this.closeWindow(market, queue);
    } else if (closeTogether) this.openWindow(market, queue);
    else void this.drain(market, queue);
    return placed;
  }

  /** The order that found its market's queue empty waits up to `windowMs` for company. */
  private openWindow(market: string, queue: MarketQueue): void {
    this.options.observe?.windowOpened();
    queue.running = true;
    queue.window = setTimeout(() => this.closeWindow(market, queue), this.options.windowMs);
  }

  /** Counts an arrival in its market; true when the market's orders come close enough together to wait for company. */
  private arrived(market: string): boolean {
    const { windowMs } = this.options;
    if (windowMs <= 0) return false;
    const now = performance.now();
    const arrivals = this.arrivals.get(market) ?? { lastAt: Number.NEGATIVE_INFINITY, closeShare: 0 };
    const close = now - arrivals.lastAt < windowMs ? 1 : 0;
    arrivals.closeShare += (close - arrivals.closeShare) * CLOSE_SHARE_WEIGHT;
    arrivals.lastAt = now;
    this.arrivals.set(market, arrivals);
    return arrivals.closeShare >= CLOSE_SHARE_MIN;
  }

  /** The window ends (its time is up, or a full batch is waiting): the market's transaction starts. */
  private closeWindow(market: string, queue: MarketQueue): void {
    clearTimeout(queue.window);
    queue.window = undefined;
    void this.drain(market, queue);
  }

  private async drain(market: string, queue: MarketQueue): Promise<void> {
    queue.running = true;
    try {
      while (queue.pending.length > 0) {
        const batch = queue.pending.splice(0, BATCH_ORDERS_MAX);
        this.options.observe?.batchStarted(batch.length);
        const deps = this.deps();
        try {
          const { outcomes, sequence } = await deps.db.transaction((tx) => placeBatch(tx, batch, deps.limits), {
            retryable: true,
          });
          outcomes.forEach((outcome, i) =>
            'refused' in outcome ? batch[i]!.reject(outcome.refused) : batch[i]!.resolve(outcome),
          );
          const { asset, fiatCurrency } = batch[0]!.order;
          if (sequence !== undefined) deps.bookChanged(asset, fiatCurrency, sequence);
          const opened = outcomes.reduce((n, outcome) => n + ('refused' in outcome ? 0 : outcome.fills.length), 0);
          if (opened > 0) deps.tradesOpened(asset, opened);
        } catch (error) {
          if (!(error instanceof KeysTaken)) {
            for (const p of batch) p.reject(error);
            continue;
          }
          // The retries are answered from their stored answers; the rest go first in the next transaction.
          for (const i of error.indexes) batch[i]!.reject(new IdempotencyKeyTaken(batch[i]!.key!.claim));
          queue.pending.unshift(...batch.filter((_, i) => !error.indexes.includes(i)));
        }
      }
    } finally {
      queue.running = false;
      // A market nobody trades in keeps no queue.
      if (queue.pending.length === 0) this.queues.delete(market);
    }
  }
}
