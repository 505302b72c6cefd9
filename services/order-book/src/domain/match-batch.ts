import type { SqlRunner, Tx } from '@orrange/db';
import {
  lockAndLoadCandidates,
  writeMatches,
  type CandidateQuery,
  type IncomingWrite,
  type MatchRecord,
} from '../data/order.repository';
import type { BuyerLimits } from './limits';
import { crosses, FILLS_PER_ORDER_MAX, matchOrder } from './matching-engine';
import { fillView, matchBetween, tradeOpening } from './match-records';
import { statusForRemaining, toMatchable, type FillView, type Order } from './order';

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
  /** The decided prefix of the batch (at least its first order), as stored, with its fills. */
  placed: Placed[];
  sequence: bigint;
  /** The write went with the transaction's COMMIT (see MatchOptions.commitIfAllDecided). */
  committed: boolean;
  /** The buyers' rooms for more trades after the decided fills. */
  rooms: Map<string, number>;
}

interface Decision {
  order: Order;
  matches: MatchRecord[];
}

/** A candidate read made already for a batch (sent together with other statements), and the limit it was read with. */
export interface FirstRead {
  candidates: Order[];
  /** The candidates' owners' room for trades as buyers (an incoming SELL's candidates). */
  rooms: Map<string, number>;
  limit: number;
}

export interface MatchOptions {
  marketLocked: boolean;
  firstRead?: FirstRead;
  /** New orders are inserted; orders an earlier round wrote and that match again after the fill cap are updated. */
  incoming: 'insert' | 'continue';
  /**
   * Asked, when this round decides every order, whether it is the transaction's last: then its write goes with
   * the COMMIT (one round trip fewer), and the caller defers first what must commit with it.
   */
  commitIfLast?: (placed: Placed[]) => boolean;
  /** How many more trades each incoming buyer may open (a BUY batch's owners); a fill without room is not made. */
  rooms: ReadonlyMap<string, number>;
  /** The limits of buyers read as candidates (a SELL batch's: the resting BUY orders' owners). */
  buyerLimits: BuyerLimits;
}

/**
 * Matches a batch of incoming orders of one side of one market, in arrival order, each against what the
 * earlier ones left: one candidate read for all of them (two when the short read's cut could matter), the
 * engine for each order in turn, one write that inserts them, reduces the makers and opens every match's trade
 * with its escrow locked (trade-execution's open_trades, in this transaction). Every decided order gets exactly
 * the fills it would get if it came alone after the ones before it. When the read was cut at CANDIDATES_MAX, an
 * order whose limit reaches the cut and that still has something left might have matched beyond it: it and the
 * rest are not decided (the caller runs them again, on a fresh read), except the first order, which is then
 * decided on a read of its own, as if it came alone. Returns the decided prefix, as written.
 */
export async function matchBatch(tx: Tx, orders: Order[], options: MatchOptions): Promise<BatchMatched> {
  const first = orders[0]!;
  if (orders.some((o) => o.side !== first.side || o.asset !== first.asset || o.fiatCurrency !== first.fiatCurrency))
    throw new Error('a matching batch is one side of one market');
  const { decided, rooms } = await decideRound(tx, orders, options);
  const placed = decided.map((d) => ({ order: d.order, fills: d.matches.map((m) => fillView(m, m.makerOrderId)) }));
  const commit = decided.length === orders.length && options.commitIfLast !== undefined && options.commitIfLast(placed);
  const matches = decided.flatMap((d) => d.matches);
  const incoming: IncomingWrite =
    options.incoming === 'insert'
      ? { kind: 'insert', orders: decided.map((d) => d.order) }
      : {
          kind: 'continue',
          orders: decided.map((d, i) => ({ order: d.order, previousRemaining: orders[i]!.remaining })),
        };
  // Every SELL in the book holds its remainder, so an escrow from its hold cannot fail: the write refuses itself
  // if one does (the hold and the book would disagree), and nothing of this batch commits.
  const written = await writeMatches(
    tx,
    first,
    incoming,
    matches,
    matches.map((m) => tradeOpening(m, options.buyerLimits)),
    { tradesMustOpen: true, commit },
  );
  return { placed, sequence: written.sequence, committed: commit, rooms };
}

/** The first, short candidate read of a batch: up to its loosest limit, any of its payment methods. */
export function firstReadQuery(orders: Order[], marketLocked: boolean, buyerLimits: BuyerLimits): CandidateQuery {
  return candidateQuery(orders, firstPageLimit(orders), marketLocked, buyerLimits);
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
  const read = async (incoming: Order[], limit: number, locked: boolean): Promise<FirstRead> => {
    const { candidates, rooms } = await lockAndLoadCandidates(
      tx,
      candidateQuery(incoming, limit, locked, options.buyerLimits),
    );
    return { candidates, rooms, limit };
  };
  const decide = (incoming: Order[], r: FirstRead) => decideBatch(incoming, r, options.rooms);
  // A short read first (most batches need a few makers); when its cut could matter, the full read decides.
  const short = options.firstRead ?? (await read(orders, firstPageLimit(orders), options.marketLocked));
  let round = decide(orders, short);
  if (round.cutMattered && short.limit < CANDIDATES_MAX)
    round = decide(orders, await read(orders, CANDIDATES_MAX, true));
  if (round.decided.length > 0) return round;
  // The others' orders and payment methods took room in the shared read: the first order reads its own.
  const first = orders.slice(0, 1);
  return decide(first, await read(first, CANDIDATES_MAX, true));
}

/**
 * One read for a whole batch: up to its loosest limit, any payment method of any of its orders; the engine
 * applies each order's own limit, payment methods and owner. A batch of one owner leaves that owner's
 * orders out of the read (with several owners the engine skips each one's own orders).
 */
function candidateQuery(
  orders: Order[],
  limit: number,
  marketLocked: boolean,
  buyerLimits: BuyerLimits,
): CandidateQuery {
  const first = orders[0]!;
  const loosest = (a: bigint, b: bigint) => ((first.side === 'BUY' ? a > b : a < b) ? a : b);
  return {
    asset: first.asset,
    fiatCurrency: first.fiatCurrency,
    side: first.side,
    limitPrice: orders.map((o) => o.price).reduce(loosest),
    userId: orders.every((o) => o.userId === first.userId) ? first.userId : '',
    paymentMethods: [...new Set(orders.flatMap((o) => o.paymentMethods))],
    limit,
    marketLocked,
    buyerLimits,
  };
}

/**
 * The decisions of a batch against `candidates` (a read of at most `limit`, best first). `cutMattered` when
 * the read was cut and an order might have matched beyond it: it and the rest are left undecided, since only
 * a longer read decides them the same way as reading everything up to CANDIDATES_MAX. A lone order's read of
 * CANDIDATES_MAX is its whole pass: it is decided on it, whatever lies beyond.
 */
function decideBatch(
  orders: Order[],
  read: FirstRead,
  incomingRooms: ReadonlyMap<string, number>,
): { decided: Decision[]; cutMattered: boolean; rooms: Map<string, number> } {
  const { candidates, limit } = read;
  // Orders beyond a cut read are priced at or beyond the last one read: only an order whose limit reaches that
  // price could have matched them.
  const cutAt = candidates.length === limit ? candidates[candidates.length - 1]!.price : undefined;
  const lonePass = orders.length === 1 && limit === CANDIDATES_MAX;
  const makers = new Map(candidates.map((c) => [c.id, c]));
  const book = candidates.map(toMatchable);
  const decided: Decision[] = [];
  let rooms = new Map([...incomingRooms, ...read.rooms]);
  for (const order of orders) {
    const result = matchOrder(
      toMatchable(order),
      book.filter((m) => m.remaining > 0n),
      FILLS_PER_ORDER_MAX,
      rooms,
    );
    // A buyer without room for another trade cannot match beyond the cut either.
    const buyerMayTrade = order.side !== 'BUY' || (result.rooms.get(order.userId) ?? 1) > 0;
    const mightMatchBeyondCut =
      cutAt !== undefined &&
      crosses(order, { price: cutAt }) &&
      result.remaining > 0n &&
      result.fills.length < FILLS_PER_ORDER_MAX &&
      buyerMayTrade;
    if (mightMatchBeyondCut && !lonePass) return { decided, cutMattered: true, rooms };
    rooms = result.rooms;
    for (const fill of result.fills) book.find((m) => m.id === fill.restingOrderId)!.remaining -= fill.amount;
    const matches = result.fills.map((fill) => matchBetween(order, makers.get(fill.restingOrderId)!, fill));
    decided.push({
      order: { ...order, remaining: result.remaining, status: statusForRemaining(order, result.remaining) },
      matches,
    });
    // It stopped at the fill cap with something left: it may cross the book still, and must match again before
    // the orders behind it take what it would have taken, so the round ends with it.
    if (stoppedAtCap(result.fills.length, result.remaining)) break;
  }
  return { decided, cutMattered: false, rooms };
}
