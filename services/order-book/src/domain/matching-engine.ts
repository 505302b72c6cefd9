/**
 * The matching engine: pure price-time priority matching with the P2P constraints of API.md. No I/O: the
 * caller loads the incoming order and the best resting orders of the opposite side (under the market lock),
 * and writes back what this returns. Amounts are bigint minor units of the asset, prices bigint cents.
 */

export type Side = 'BUY' | 'SELL';

/** Upper bound on fills one incoming order may make in one pass; the rest of it rests in the book. */
export const FILLS_PER_ORDER_MAX = 50;

export interface MatchableOrder {
  id: string;
  userId: string;
  side: Side;
  /** Limit price in cents. */
  price: bigint;
  /** Unfilled amount in the asset's minor units. */
  remaining: bigint;
  /** Smallest fill this order accepts, unless the fill takes its whole remainder. */
  minFill: bigint;
  paymentMethods: readonly string[];
  /** Time priority: lower came first. */
  seq: bigint;
  /** Fiat limits per trade in cents (API.md minFiat / maxFiat); absent or null: none. */
  minFiat?: bigint | null;
  maxFiat?: bigint | null;
  /** Minor units of the asset in one coin (10^decimals): fiat value in cents = price × amount / unitsPerCoin. */
  unitsPerCoin?: bigint;
}

/**
 * How many more trades each buyer may open (TRADES_OPEN_AS_BUYER_MAX, or 0 while suspended), for the buyers that
 * have a limit here: a fill whose buyer has no room left is not made. Buyers not in the map have no limit.
 */
export type BuyerRooms = ReadonlyMap<string, number>;

export interface Fill {
  restingOrderId: string;
  restingUserId: string;
  /** The resting order's price: a fill always executes at the price of the order that was waiting. */
  price: bigint;
  amount: bigint;
  paymentMethod: string;
}

export interface MatchResult {
  fills: Fill[];
  /** The incoming order's remainder after the fills. */
  remaining: bigint;
  /** The buyers' rooms after the fills. */
  rooms: Map<string, number>;
}

/** True when a resting order of the opposite side is priced so that the incoming order accepts it. */
export function crosses(
  incoming: Pick<MatchableOrder, 'side' | 'price'>,
  resting: Pick<MatchableOrder, 'price'>,
): boolean {
  return incoming.side === 'BUY' ? resting.price <= incoming.price : resting.price >= incoming.price;
}

/** Orders the resting side best first: cheapest ask, or highest bid; then the earliest. */
export function comparePriority(
  side: Side,
  a: Pick<MatchableOrder, 'price' | 'seq'>,
  b: Pick<MatchableOrder, 'price' | 'seq'>,
): number {
  if (a.price !== b.price) return (side === 'SELL' ? a.price < b.price : a.price > b.price) ? -1 : 1;
  return a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0;
}

/** A fill of `amount` respects an order's minFill when it is at least minFill or takes the whole remainder. */
export function respectsMinFill(order: Pick<MatchableOrder, 'remaining' | 'minFill'>, amount: bigint): boolean {
  return amount >= order.minFill || amount === order.remaining;
}

/** A fill of `amount` at `price` respects an order's minFiat when its fiat value reaches it, or it takes the whole remainder. */
export function respectsMinFiat(
  order: Pick<MatchableOrder, 'remaining' | 'minFiat' | 'unitsPerCoin'>,
  amount: bigint,
  price: bigint,
): boolean {
  if (order.minFiat === undefined || order.minFiat === null || amount === order.remaining) return true;
  return price * amount >= order.minFiat * (order.unitsPerCoin ?? 1n);
}

/** The most an order may trade at `price` in one fill: its remainder, cut to its maxFiat's worth. */
export function maxFillAt(
  order: Pick<MatchableOrder, 'remaining' | 'maxFiat' | 'unitsPerCoin'>,
  price: bigint,
): bigint {
  if (order.maxFiat === undefined || order.maxFiat === null) return order.remaining;
  const byValue = (order.maxFiat * (order.unitsPerCoin ?? 1n)) / price;
  return byValue < order.remaining ? byValue : order.remaining;
}

/** The first of the resting order's payment methods the incoming order also accepts, if any. */
export function sharedPaymentMethod(
  resting: Pick<MatchableOrder, 'paymentMethods'>,
  incoming: Pick<MatchableOrder, 'paymentMethods'>,
): string | undefined {
  return resting.paymentMethods.find((method) => incoming.paymentMethods.includes(method));
}

/** The buyer of a fill between two orders of opposite sides. */
export function buyerOf(a: Pick<MatchableOrder, 'side' | 'userId'>, b: Pick<MatchableOrder, 'userId'>): string {
  return a.side === 'BUY' ? a.userId : b.userId;
}

/**
 * The fill `incoming` (with its current remainder) would make against `resting`, or undefined when the pair
 * may not trade: wrong side, not crossing, same owner, no common payment method, the buyer has no room for another
 * trade, or minFill / minFiat refused. The amount is as much as both remainders and both maxFiat allow.
 */
export function fillBetween(
  incoming: MatchableOrder,
  resting: MatchableOrder,
  rooms: BuyerRooms = new Map(),
): Fill | undefined {
  if (resting.side === incoming.side || resting.userId === incoming.userId) return undefined;
  if (resting.remaining <= 0n || incoming.remaining <= 0n || !crosses(incoming, resting)) return undefined;
  if ((rooms.get(buyerOf(incoming, resting)) ?? 1) <= 0) return undefined;
  const paymentMethod = sharedPaymentMethod(resting, incoming);
  if (paymentMethod === undefined) return undefined;
  const price = resting.price;
  const amount = [incoming.remaining, resting.remaining, maxFillAt(incoming, price), maxFillAt(resting, price)].reduce(
    (a, b) => (a < b ? a : b),
  );
  if (amount <= 0n) return undefined;
  if (!respectsMinFill(incoming, amount) || !respectsMinFill(resting, amount)) return undefined;
  if (!respectsMinFiat(incoming, amount, price) || !respectsMinFiat(resting, amount, price)) return undefined;
  return { restingOrderId: resting.id, restingUserId: resting.userId, price, amount, paymentMethod };
}

/**
 * Matches `incoming` against `resting` (any order; sorted here) by price-time priority. After every fill the
 * scan starts again from the best resting order, because a smaller remainder can make an order that was
 * skipped for minFill acceptable. Each fill takes as much as both orders allow, and a resting order is filled at
 * most once per pass (one trade per pair of orders, even when a maxFiat cut the fill). Every fill takes one of its
 * buyer's room (`rooms`). Stops after FILLS_PER_ORDER_MAX fills. Does not modify its arguments.
 */
export function matchOrder(
  incoming: MatchableOrder,
  resting: readonly MatchableOrder[],
  fillsMax = FILLS_PER_ORDER_MAX,
  rooms: BuyerRooms = new Map(),
): MatchResult {
  const makerSide: Side = incoming.side === 'BUY' ? 'SELL' : 'BUY';
  const book = resting
    .filter((order) => order.side === makerSide)
    .map((order) => ({ ...order }))
    .sort((a, b) => comparePriority(makerSide, a, b));
  const taker = { ...incoming };
  const left = new Map(rooms);
  const fills: Fill[] = [];
  const filled = new Set<string>();
  while (fills.length < fillsMax && taker.remaining > 0n) {
    let fill: Fill | undefined;
    let maker: MatchableOrder | undefined;
    for (const candidate of book) {
      fill = filled.has(candidate.id) ? undefined : fillBetween(taker, candidate, left);
      if (fill) {
        maker = candidate;
        break;
      }
    }
    if (!fill || !maker) break;
    maker.remaining -= fill.amount;
    taker.remaining -= fill.amount;
    filled.add(maker.id);
    const buyer = buyerOf(taker, maker);
    if (left.has(buyer)) left.set(buyer, left.get(buyer)! - 1);
    fills.push(fill);
  }
  assertConserved(incoming, taker.remaining, fills);
  return { fills, remaining: taker.remaining, rooms: left };
}

function assertConserved(incoming: MatchableOrder, remaining: bigint, fills: Fill[]): void {
  const filled = fills.reduce((sum, fill) => sum + fill.amount, 0n);
  if (remaining < 0n || filled + remaining !== incoming.remaining)
    throw new Error(`matching invariant broken for order ${incoming.id}`);
}
