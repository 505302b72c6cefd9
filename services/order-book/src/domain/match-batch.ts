import type { SqlRunner, Tx } from '@orrange/db';
import {
  lockAndLoadCandidates,
  writeMatches,
  type CandidateQuery,
  type CandidateReads,
  type IncomingWrite,
  type MatchRecord,
  type WriteOptions,
} from '../data/order.repository';
import type { BuyerLimits } from './limits';
import { crosses, FILLS_PER_ORDER_MAX, matchOrder, type MatchableOrder } from './matching-engine';
import { fillView, matchBetween, tradeOpening } from './match-records';
import { statusForRemaining, toMatchable, type FillView, type Order, type Side } from './order';

/** How many resting orders one matching pass loads (best first). Bounded so a pass is bounded. */
export const CANDIDATES_MAX = 200;
/**
 * How many resting orders the first, short read of a matching pass loads (plus one per order of a batch). A
 * pass whose short read was cut where it could matter reads again up to CANDIDATES_MAX, so the outcome is
 * the same as one long read; a deep book no longer costs every pass 200 parsed rows.
 */
export const CANDIDATES_FIRST_PAGE = 16;

export interface Placed {
  order: Order;
  fills: FillView[];
}

export interface BatchMatched {
  /** The decided prefix of the batch (at least its first order), as answered, with its fills. */
  placed: Placed[];
  /** The market's sequence after the write: settled once the write was sent (see MatchOptions.sendWrite). */
  sequence: Promise<bigint>;
  /** The buyers' rooms for more trades after the decided fills. */
  rooms: Map<string, number>;
}

interface Decision {
  /** The order as its answer shows it: as it was once it was matched. */
  order: Order;
  /** The order as it is written: an order of the batch that rested and that later ones took from has less left. */
  stored: Order;
  matches: MatchRecord[];
}

/** A candidate read made already for a batch (sent together with other statements), and the limit it was read with. */
export interface FirstRead {
  candidates: Order[];
  /** The candidates' owners' room for trades as buyers (an incoming SELL's candidates). */
  rooms: Map<string, number>;
  limit: number;
}

/** The candidate reads of a round, by the side of the incoming orders they serve (each holds the other side's orders). */
export type SideReads = Partial<Record<Side, FirstRead>>;

export interface MatchOptions {
  marketLocked: boolean;
  firstRead?: SideReads;
  /** New orders are inserted; orders an earlier round wrote and that match again after the fill cap are updated. */
  incoming: 'insert' | 'continue';
  /**
   * How this round's write is sent (WriteOptions.send), asked with the orders it decided and whether they are all
   * of them: with the COMMIT when nothing follows in the transaction (the caller defers first what must commit
   * with it), or ahead of whatever round trip comes next. Without it the write goes in a round trip of its own.
   */
  sendWrite?: (placed: Placed[], all: boolean) => WriteOptions['send'];
  /** How many more trades each incoming buyer may open (the batch's BUY orders' owners); a fill without room is not made. */
  rooms: ReadonlyMap<string, number>;
  /** The limits of buyers read as candidates (the resting BUY orders' owners, for the batch's SELL orders). */
  buyerLimits: BuyerLimits;
}

/**
 * Matches a batch of incoming orders of one market, BUYs and SELLs, in arrival order, each against what the
 * earlier ones left, the book's resting orders and the batch's own that rested: one candidate read per side for
 * all of them (two when the short read's cut could matter), the engine for each order in turn, one write that
 * inserts them, reduces the makers and opens every match's trade with its escrow locked (trade-execution's
 * open_trades, in this transaction). Every decided order gets exactly the fills it would get if it came alone
 * after the ones before it. When a read was cut at CANDIDATES_MAX, an order whose limit reaches the cut and that
 * still has something left might have matched beyond it: it and the rest are not decided (the caller runs them
 * again, on a fresh read), except the first order, which is then decided on a read of its own, as if it came
 * alone. Returns the decided prefix, as answered.
 */
export async function matchBatch(tx: Tx, orders: Order[], options: MatchOptions): Promise<BatchMatched> {
  const first = orders[0]!;
  if (orders.some((o) => o.asset !== first.asset || o.fiatCurrency !== first.fiatCurrency))
    throw new Error('a matching batch is one market');
  const { decided, rooms } = await decideRound(tx, orders, options);
  const placed = decided.map((d) => ({ order: d.order, fills: d.matches.map((m) => fillView(m, m.makerOrderId)) }));
  const send = options.sendWrite?.(placed, decided.length === orders.length) ?? 'alone';
  const matches = decided.flatMap((d) => d.matches);
  const incoming: IncomingWrite =
    options.incoming === 'insert'
      ? { kind: 'insert', orders: decided.map((d) => d.stored) }
      : {
          kind: 'continue',
          orders: decided.map((d, i) => ({ order: d.stored, previousRemaining: orders[i]!.remaining })),
        };
  // Every SELL in the book holds its remainder, so an escrow from its hold cannot fail: the write refuses itself
  // if one does (the hold and the book would disagree), and nothing of this batch commits.
  const sequence = writeMatches(
    tx,
    first,
    incoming,
    matches,
    matches.map((m) => tradeOpening(m, options.buyerLimits)),
    { tradesMustOpen: true, send },
  ).then((written) => written.sequence);
  // A write sent with the next round trip settles with it; that round trip's own promise reports its failure.
  if (send === 'withNext') sequence.catch(() => undefined);
  else await sequence;
  return { placed, sequence, rooms };
}

/** The first, short candidate reads of a batch: one per side it holds, up to that side's loosest limit, any of its payment methods. */
export function firstReadQueries(orders: Order[], marketLocked: boolean, buyerLimits: BuyerLimits): CandidateQuery[] {
  return candidateQueries(orders, firstPageLimit(orders), marketLocked, buyerLimits);
}

/** The reads of `queries` (see lockAndLoadCandidates), by the side of the orders they serve. */
export function sideReads(queries: CandidateQuery[], reads: CandidateReads['reads']): SideReads {
  return Object.fromEntries(queries.map((q, i) => [q.side, { ...reads[i]!, limit: q.limit }]));
}

function firstPageLimit(orders: Order[]): number {
  return Math.min(CANDIDATES_MAX, CANDIDATES_FIRST_PAGE + orders.length);
}

/** An order whose pass made as many fills as a pass may, with something left, may cross the book still. */
export function stoppedAtCap(fills: number, remaining: bigint): boolean {
  return fills === FILLS_PER_ORDER_MAX && remaining > 0n;
}

/** The decisions of the longest prefix of `orders` that the candidate reads can decide exactly (at least one). */
async function decideRound(
  tx: SqlRunner,
  orders: Order[],
  options: MatchOptions,
): Promise<{ decided: Decision[]; rooms: Map<string, number> }> {
  const read = async (incoming: Order[], limit: number, locked: boolean): Promise<SideReads> => {
    const queries = candidateQueries(incoming, limit, locked, options.buyerLimits);
    return sideReads(queries, (await lockAndLoadCandidates(tx, queries)).reads);
  };
  const decide = (incoming: Order[], r: SideReads) => decideBatch(incoming, r, options.rooms);
  // Short reads first (most batches need a few makers); when a cut could matter, the full reads decide.
  const short = options.firstRead ?? (await read(orders, firstPageLimit(orders), options.marketLocked));
  let round = decide(orders, short);
  if (round.cutMattered && Object.values(short).some((r) => r.limit < CANDIDATES_MAX))
    round = decide(orders, await read(orders, CANDIDATES_MAX, true));
  if (round.decided.length > 0) return round;
  // The others' orders and payment methods took room in the shared read: the first order reads its own.
  const first = orders.slice(0, 1);
  return decide(first, await read(first, CANDIDATES_MAX, true));
}

/**
 * One read per side of a batch: up to `limit`, any payment method of any of that side's orders; the engine applies
 * each order's own limit, payment methods and owner. A side whose orders are all one owner's leaves that owner's
 * orders out of its read (with several owners the engine skips each one's own orders).
 */
function candidateQueries(
  orders: Order[],
  limit: number,
  marketLocked: boolean,
  buyerLimits: BuyerLimits,
): CandidateQuery[] {
  const sides = [...new Set(orders.map((o) => o.side))];
  return sides.map((side) => {
    const ofSide = orders.filter((o) => o.side === side);
    const first = ofSide[0]!;
    const loosest = (a: bigint, b: bigint) => ((side === 'BUY' ? a > b : a < b) ? a : b);
    return {
      asset: first.asset,
      fiatCurrency: first.fiatCurrency,
      side,
      limitPrice: ofSide.map((o) => o.price).reduce(loosest),
      userId: ofSide.every((o) => o.userId === first.userId) ? first.userId : '',
      paymentMethods: [...new Set(ofSide.flatMap((o) => o.paymentMethods))],
      limit,
      marketLocked,
      buyerLimits,
    };
  });
}

const opposite = (side: Side): Side => (side === 'BUY' ? 'SELL' : 'BUY');

/**
 * Time priority of the batch's own orders while the batch is decided: after every order in the book, in arrival
 * order (their seq is given when they are written, in the same order).
 */
const BATCH_SEQ_BASE = 1n << 62n;

/**
 * The decisions of a batch against the candidates read for each of its sides (each a read of at most `limit`, best
 * first), and against its own orders that rest. `cutMattered` when a read was cut and an order might have matched
 * beyond it: it and the rest are left undecided, since only a longer read decides them the same way as reading
 * everything up to CANDIDATES_MAX. The batch's own orders priced at or beyond a cut are not offered to the orders
 * behind them (the book's orders between the cut and them would come first). A lone order's read of
 * CANDIDATES_MAX is its whole pass: it is decided on it, whatever lies beyond.
 */
function decideBatch(
  orders: Order[],
  reads: SideReads,
  incomingRooms: ReadonlyMap<string, number>,
): { decided: Decision[]; cutMattered: boolean; rooms: Map<string, number> } {
  // Orders beyond a cut read are priced at or beyond the last one read: only an order whose limit reaches that
  // price could have matched them. Keyed by the side of the resting orders.
  const cutAt = new Map<Side, bigint>();
  const makers = new Map<string, Order>();
  const book: MatchableOrder[] = [];
  let rooms = new Map(incomingRooms);
  for (const [side, read] of Object.entries(reads) as Array<[Side, FirstRead]>) {
    const { candidates, limit } = read;
    if (candidates.length === limit) cutAt.set(opposite(side), candidates[candidates.length - 1]!.price);
    for (const c of candidates) {
      makers.set(c.id, c);
      book.push(toMatchable(c));
    }
    rooms = new Map([...rooms, ...read.rooms]);
  }
  const lonePass = orders.length === 1 && reads[orders[0]!.side]?.limit === CANDIDATES_MAX;
  const decided: Array<Omit<Decision, 'stored'>> = [];
  const result = (cutMattered: boolean) => {
    // What the batch's own resting orders have left once the later ones took from them.
    const left = new Map(book.filter((m) => m.seq >= BATCH_SEQ_BASE).map((m) => [m.id, m.remaining]));
    const stored = (order: Order) => {
      const remaining = left.get(order.id) ?? order.remaining;
      return remaining === order.remaining
        ? order
        : { ...order, remaining, status: statusForRemaining(order, remaining) };
    };
    return { decided: decided.map((d) => ({ ...d, stored: stored(d.order) })), cutMattered, rooms };
  };
  for (const [i, order] of orders.entries()) {
    const restingSide = opposite(order.side);
    const cut = cutAt.get(restingSide);
    const offered = book.filter(
      (m) =>
        m.side === restingSide &&
        m.remaining > 0n &&
        (cut === undefined || m.seq < BATCH_SEQ_BASE || (restingSide === 'SELL' ? m.price < cut : m.price > cut)),
    );
    const matched = matchOrder(toMatchable(order), offered, FILLS_PER_ORDER_MAX, rooms);
    // A buyer without room for another trade cannot match beyond the cut either.
    const buyerMayTrade = order.side !== 'BUY' || (matched.rooms.get(order.userId) ?? 1) > 0;
    const mightMatchBeyondCut =
      cut !== undefined &&
      crosses(order, { price: cut }) &&
      matched.remaining > 0n &&
      matched.fills.length < FILLS_PER_ORDER_MAX &&
      buyerMayTrade;
    if (mightMatchBeyondCut && !lonePass) return result(true);
    rooms = matched.rooms;
    for (const fill of matched.fills) book.find((m) => m.id === fill.restingOrderId)!.remaining -= fill.amount;
    const matches = matched.fills.map((fill) => matchBetween(order, makers.get(fill.restingOrderId)!, fill));
    const answered = { ...order, remaining: matched.remaining, status: statusForRemaining(order, matched.remaining) };
    decided.push({ order: answered, matches });
    if (matched.remaining > 0n) {
      // It rests: the orders behind it in the batch may take from it.
      makers.set(order.id, answered);
      book.push({ ...toMatchable(answered), seq: BATCH_SEQ_BASE + BigInt(i) });
    }
    // It stopped at the fill cap with something left: it may cross the book still, and must match again before
    // the orders behind it take what it would have taken, so the round ends with it.
    if (stoppedAtCap(matched.fills.length, matched.remaining)) break;
  }
  return result(false);
}
