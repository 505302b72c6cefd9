import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { Express } from 'express';
import fc from 'fast-check';
import { AppError } from '@orrange/http';
import { ASSET_SCALES, fromUnits, FIAT_CURRENCIES, type Asset, type FiatCurrency } from '@orrange/money';
import type { OrderBookService } from '../src/composition';
import { createApp } from '../src/app';
import type { Placed } from '../src/domain/match-batch';
import { fillBetween, FILLS_PER_ORDER_MAX, matchOrder, type MatchableOrder } from '../src/domain/matching-engine';
import { statusForRemaining, type OrderStatus, type Side } from '../src/domain/order';
import type { OrderBookDeps } from '../src/domain/order-book.deps';
import { CONTINUATIONS_MAX, placeOrder, type PlaceOrderInput } from '../src/domain/place-order.use-case';
import { createHarness, type Harness } from './harness';
import { actors, bookInvariantViolations, deposit } from './helpers';

/**
 * Random mixes of BUY and SELL placements submitted together in groups (so that they batch per market and
 * side), SELLs some of which their sellers cannot cover, and cancellations. The oracle is the matching engine
 * applied one order at a time, in order, against the whole book in memory, refusing the unfunded SELLs: the
 * service, which reads bounded candidate pages and decides a whole batch per market at once, must end in the
 * same state with the same fills in the same order. A second mix runs everything at once on two replicas and
 * checks what must hold whatever the interleaving.
 */
const SCALE = 8;
const METHODS = ['SEPA', 'WIRE', 'CASH'];
/** True once in `n` draws. */
const rarely = (n: number) => fc.nat(n - 1).map((draw) => draw === 0);

/** Prices in cents around 10.00 (so they straddle a power of ten), amounts in the asset's smallest units. */
const orderArb = (priceMin: number, priceMax: number, amountMax: number) =>
  fc.record({
    // Most orders in the first market, so that its book grows deeper than a short candidate read.
    market: fc.constantFrom(0, 0, 0, 1),
    userId: fc.constantFrom('u-a', 'u-b', 'u-c', 'u-d', 'u-e'),
    price: fc.integer({ min: priceMin, max: priceMax }),
    amount: fc.integer({ min: 1, max: amountMax }),
    minFill: fc.integer({ min: 1, max: 5 }),
    paymentMethods: fc.subarray(METHODS, { minLength: 1 }),
  });
// Bids a little higher than asks, so that most SELLs cross several of them.
const buyArb = orderArb(994, 1012, 20);
const sellArb = orderArb(988, 1006, 150);
/** One placement of a group: a BUY, or a SELL whose seller is funded for it (or, rarely, is not), maybe cancelled once the group is done. */
const placementArb = fc.oneof(
  fc.record({ side: fc.constant<Side>('BUY'), order: buyArb, unfunded: fc.constant(false), cancelAfter: rarely(6) }),
  fc.record({ side: fc.constant<Side>('SELL'), order: sellArb, unfunded: rarely(6), cancelAfter: rarely(6) }),
);
const phaseArb = fc.record({
  // Bids written straight into the table, resting unmatched: deep books whose candidate reads get cut.
  seeded: fc.array(buyArb, { maxLength: 40, size: 'max' }),
  groups: fc.array(fc.array(placementArb, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 3 }),
});

type OrderInput = typeof buyArb extends fc.Arbitrary<infer T> ? T : never;

interface ModelOrder extends MatchableOrder {
  market: number;
  amount: bigint;
  status: OrderStatus;
}

interface ModelFill {
  buyOrderId: string;
  sellOrderId: string;
  price: string;
  amount: string;
  paymentMethod: string;
}

/** The book in memory: every order entering it is matched by the engine against all that rests, nothing bounded. */
class BookModel {
  readonly orders = new Map<string, ModelOrder>();
  readonly fills: ModelFill[][] = [[], []];
  private seq = 0n;

  add(id: string, side: Side, input: OrderInput): void {
    const amount = BigInt(input.amount);
    const minFill = BigInt(Math.min(input.minFill, input.amount));
    this.seq += 1n;
    this.orders.set(id, {
      id,
      side,
      market: input.market,
      userId: input.userId,
      price: BigInt(input.price),
      amount,
      remaining: amount,
      minFill,
      paymentMethods: input.paymentMethods,
      seq: this.seq,
      status: 'OPEN',
    });
  }

  /**
   * Matches an order that enters the book now; returns its fills. An order that stops at the fill cap with
   * something left matches again, up to CONTINUATIONS_MAX more times: as one pass with a cap that many times over.
   */
  enter(id: string): ModelFill[] {
    const order = this.orders.get(id)!;
    const resting = [...this.orders.values()].filter(
      (o) =>
        o.market === order.market && o.side !== order.side && (o.status === 'OPEN' || o.status === 'PARTIALLY_FILLED'),
    );
    const result = matchOrder(order, resting, FILLS_PER_ORDER_MAX * (1 + CONTINUATIONS_MAX));
    const fills = result.fills.map((fill) => {
      const maker = this.orders.get(fill.restingOrderId)!;
      maker.remaining -= fill.amount;
      maker.status = statusForRemaining(maker, maker.remaining);
      const [buy, sell] = order.side === 'BUY' ? [order, maker] : [maker, order];
      return {
        buyOrderId: buy.id,
        sellOrderId: sell.id,
        price: fromUnits(fill.price, 2),
        amount: fromUnits(fill.amount, SCALE),
        paymentMethod: fill.paymentMethod,
      };
    });
    order.remaining = result.remaining;
    order.status = statusForRemaining(order, result.remaining);
    this.fills[order.market]!.push(...fills);
    return fills;
  }

  cancel(id: string): boolean {
    const order = this.orders.get(id)!;
    if (!['OPEN', 'PARTIALLY_FILLED'].includes(order.status)) return false;
    order.status = 'CANCELLED';
    return true;
  }
}

/** What became of a placement: placed (with its fills, as answered), or refused. */
type Result = { placed: Placed; refused?: undefined } | { placed?: undefined; refused: unknown };
const settle = (placing: Promise<Placed>): Promise<Result> =>
  placing.then(
    (placed) => ({ placed }),
    (refused: unknown) => ({ refused }),
  );
const refusal = (r: Result) =>
  r.refused instanceof AppError ? `${r.refused.status} ${r.refused.code}` : r.placed ? 'placed' : String(r.refused);

describe('orders placed together in batches against a one-at-a-time model', () => {
  let harness: Harness;
  let replica: OrderBookService;
  let apps: Express[];
  let books: OrderBookDeps[];
  let t: ReturnType<typeof actors>;
  const sql = <R = Record<string, unknown>>(text: string, params?: unknown[]) => harness.testDb.query<R>(text, params);

  beforeAll(async () => {
    harness = await createHarness({ DB_POOL_MAX: '8' });
    replica = harness.replica();
    apps = [createApp(harness), createApp(replica)];
    books = [harness.deps, replica.deps];
    t = actors(harness.runtime, apps[0]!, harness.testDb);
  });

  afterAll(() => harness.close());

  /** An order as placeOrder takes it; amounts are in the asset's smallest units. */
  const input = (
    userId: string,
    side: Side,
    asset: Asset,
    fiatCurrency: FiatCurrency,
    o: OrderInput,
  ): PlaceOrderInput => ({
    userId,
    side,
    asset,
    fiatCurrency,
    price: BigInt(o.price),
    amount: BigInt(o.amount),
    minFill: BigInt(Math.min(o.minFill, o.amount)),
    paymentMethods: o.paymentMethods,
    paymentWindowMinutes: 30,
    terms: null,
    minFiat: null,
    maxFiat: null,
    expiresAt: null,
    merchant: false,
    paymentMethodIds: [],
  });
  /** Funds a SELL's seller for it, or, for an unfunded one, a fresh seller with one unit less than it needs. */
  const fundFor = async (sellerId: string, asset: Asset, units: bigint) => {
    if (units > 0n) await deposit(harness.testDb, sellerId, asset, fromUnits(units, ASSET_SCALES[asset]));
  };
  /** Writes bids straight into the table (no matching), in the given order of time priority. */
  const seedBids = (markets: Array<[Asset, FiatCurrency]>, bids: Array<OrderInput & { id: string }>) => {
    const rows = bids.map((o, n) => {
      const [asset, fiatCurrency] = markets[o.market]!;
      const scale = ASSET_SCALES[asset];
      return {
        n,
        id: o.id,
        user_id: o.userId,
        asset,
        fiat_currency: fiatCurrency,
        price: fromUnits(BigInt(o.price), 2),
        amount: fromUnits(BigInt(o.amount), scale),
        min_fill: fromUnits(BigInt(Math.min(o.minFill, o.amount)), scale),
        payment_methods: o.paymentMethods,
      };
    });
    return sql(
      `INSERT INTO orders (id, user_id, side, asset, fiat_currency, price, amount, remaining, min_fill, payment_methods, payment_window_minutes, status, live)
       SELECT r.id, r.user_id, 'BUY', r.asset, r.fiat_currency, r.price, r.amount, r.amount, r.min_fill, r.payment_methods, 30, 'OPEN', true
       FROM jsonb_to_recordset($1::jsonb) AS r(n int, id uuid, user_id text, asset text, fiat_currency text, price numeric, amount numeric, min_fill numeric, payment_methods text[])
       ORDER BY r.n`,
      [JSON.stringify(rows)],
    );
  };
  const cancel = (app: Express, userId: string, id: string) =>
    request(app).delete(`/api/v1/orders/${id}`).set(t.as(userId));

  it('when random BUYs, SELLs (some unfunded) and cancellations arrive in groups, then the book ends as the one-at-a-time model says', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(phaseArb, { minLength: 1, maxLength: 4 }), async (phases) => {
        // Each run has its own two markets (same asset scale), so runs never see each other's orders.
        const fiat = FIAT_CURRENCIES[run++]!;
        const markets: Array<[Asset, FiatCurrency]> = [
          ['BTC', fiat],
          ['ETH', fiat],
        ];
        const model = new BookModel();
        /** The service's fills per market, as answered, in arrival order. */
        const answered: Array<
          Array<{ buyOrderId: string; sellOrderId: string; matchId: string; price: string; amount: string }>
        > = [[], []];
        let broke = 0;
        for (const phase of phases) {
          const seeded = phase.seeded.map((order) => ({ ...order, id: randomUUID() }));
          await seedBids(markets, seeded);
          for (const order of seeded) model.add(order.id, 'BUY', order);
          for (const group of phase.groups) {
            // Sellers funded first (an unfunded SELL's seller is someone fresh, one unit short), then the whole group at once.
            const placements = group.map((p) => ({
              ...p,
              userId: p.unfunded ? `broke-${fiat}-${++broke}` : p.order.userId,
            }));
            for (const p of placements) {
              if (p.side === 'SELL')
                await fundFor(p.userId, markets[p.order.market]![0], BigInt(p.order.amount) - (p.unfunded ? 1n : 0n));
            }
            const results = await Promise.all(
              placements.map((p) =>
                settle(placeOrder(books[0]!, input(p.userId, p.side, ...markets[p.order.market]!, p.order))),
              ),
            );

            for (const [i, p] of placements.entries()) {
              const result = results[i]!;
              if (p.unfunded) {
                expect(refusal(result)).toBe('409 WALLET.INSUFFICIENT_FUNDS');
                continue;
              }
              expect(refusal(result)).toBe('placed');
              const { order, fills } = result.placed!;
              model.add(order.id, p.side, p.order);
              const expected = model.enter(order.id);
              const { status, remaining } = model.orders.get(order.id)!;
              expect({ status: order.status, remaining: order.remaining }).toEqual({ status, remaining });
              for (const f of fills) {
                const [buyOrderId, sellOrderId] =
                  p.side === 'BUY' ? [order.id, f.counterOrderId] : [f.counterOrderId, order.id];
                answered[p.order.market]!.push({
                  buyOrderId,
                  sellOrderId,
                  matchId: f.matchId,
                  price: f.price,
                  amount: f.amount,
                });
              }
              expect(
                fills.map((f) => ({ counterOrderId: f.counterOrderId, price: f.price, amount: f.amount })),
              ).toEqual(
                expected.map((f) => ({
                  counterOrderId: p.side === 'BUY' ? f.sellOrderId : f.buyOrderId,
                  price: f.price,
                  amount: f.amount,
                })),
              );
            }
            for (const [i, p] of placements.entries()) {
              const placed = results[i]!.placed;
              if (p.cancelAfter && placed)
                expect((await cancel(apps[0]!, p.userId, placed.order.id)).status).toBe(
                  model.cancel(placed.order.id) ? 200 : 409,
                );
            }
          }

          for (const [index, [asset]] of markets.entries()) {
            const stored = await sql<{ id: string; status: OrderStatus; remaining: string }>(
              'SELECT id, status, remaining::text AS remaining FROM orders WHERE asset = $1 AND fiat_currency = $2 ORDER BY seq',
              [asset, fiat],
            );
            const modelled = [...model.orders.values()].filter((o) => o.market === index);
            expect(stored).toEqual(
              modelled.map((o) => ({ id: o.id, status: o.status, remaining: fromUnits(o.remaining, SCALE) })),
            );
            // Every match of the market was answered to its order, with the payment method the model chose.
            const matches = await sql<{ id: string; payment_method: string }>(
              'SELECT id::text, payment_method FROM matches WHERE asset = $1 AND fiat_currency = $2',
              [asset, fiat],
            );
            const method = new Map(matches.map((m) => [m.id, m.payment_method]));
            expect(matches).toHaveLength(answered[index]!.length);
            expect(
              answered[index]!.map(({ matchId, ...fill }) => ({ ...fill, paymentMethod: method.get(matchId) })),
            ).toEqual(model.fills[index]);
          }
        }
      }),
      { seed: 20261126, numRuns: 12, endOnFailure: true },
    );
    expect(await bookInvariantViolations(harness.testDb)).toEqual([]);
  }, 180_000);

  it('when BUYs, groups of SELLs (some unfunded) and cancellations race on two replicas, then no maker is over-filled, every fill has its trade and nothing that could trade is left resting', async () => {
    const fiats: FiatCurrency[] = ['USD', 'EUR', 'GBP'];
    const mixArb = fc.record({
      sells: fc.array(
        fc.record({
          order: sellArb,
          market: fc.constantFrom(0, 1, 2),
          cancel: rarely(6),
          unfunded: rarely(8),
          group: fc.nat(5),
        }),
        { minLength: 36, maxLength: 36 },
      ),
      buys: fc.array(fc.record({ order: buyArb, market: fc.constantFrom(0, 1, 2) }), { minLength: 45, maxLength: 45 }),
    });
    const [mix] = fc.sample(mixArb, { seed: 1126, numRuns: 1 });
    // minFill of one unit: every crossing pair with a common method and two owners can trade, so none may rest.
    const unit = (o: OrderInput) => ({ ...o, minFill: 1 });
    const sells = mix!.sells.map((s, i) => ({ ...s, userId: s.unfunded ? `mix-broke-${i}` : s.order.userId }));
    for (const s of sells) await fundFor(s.userId, 'USDT', BigInt(s.order.amount) - (s.unfunded ? 1n : 0n));
    expect(sells.some((s) => s.unfunded)).toBe(true);

    const cancels: Array<Promise<number>> = [];
    const groups = Array.from({ length: 6 }, (_, g) => sells.filter((s) => s.group === g));
    // Each group submitted at once to one replica, the BUYs one by one to both, all racing; a SELL to be cancelled is
    // cancelled through the other replica as soon as it is placed, while the rest still run.
    const [sellResults, buyResults] = await Promise.all([
      Promise.all(
        groups.map((group, g) =>
          Promise.all(
            group.map((s) => {
              const placing = settle(
                placeOrder(books[g % 2]!, input(s.userId, 'SELL', 'USDT', fiats[s.market]!, unit(s.order))),
              );
              if (s.cancel)
                cancels.push(
                  placing.then(async (r) =>
                    r.placed ? (await cancel(apps[(g + 1) % 2]!, s.userId, r.placed.order.id)).status : 0,
                  ),
                );
              return placing.then((r) => ({ sell: s, result: r }));
            }),
          ),
        ),
      ),
      Promise.all(
        mix!.buys.map((b, i) =>
          settle(placeOrder(books[i % 2]!, input(b.order.userId, 'BUY', 'USDT', fiats[b.market]!, unit(b.order)))),
        ),
      ),
    ]);
    const cancelled = await Promise.all(cancels);

    for (const { sell, result } of sellResults.flat())
      expect(refusal(result)).toBe(sell.unfunded ? '409 WALLET.INSUFFICIENT_FUNDS' : 'placed');
    expect(buyResults.map(refusal)).toEqual(buyResults.map(() => 'placed'));
    expect(cancelled.every((status) => status === 0 || status === 200 || status === 409)).toBe(true);
    expect(await sql("SELECT id FROM orders WHERE user_id LIKE 'mix-broke-%'")).toEqual([]);
    expect(await bookInvariantViolations(harness.testDb)).toEqual([]);
    const orders = await sql<{
      id: string;
      user_id: string;
      side: Side;
      fiat_currency: string;
      price: string;
      remaining: string;
      min_fill: string;
      payment_methods: string[];
      status: OrderStatus;
      seq: string;
    }>(
      `SELECT id, user_id, side, fiat_currency, (price * 100)::bigint::text AS price, (remaining * 1000000)::bigint::text AS remaining, (min_fill * 1000000)::bigint::text AS min_fill,
         payment_methods, status, seq::text AS seq FROM orders WHERE asset = 'USDT' AND fiat_currency = ANY($1)`,
      [fiats],
    );
    const live = orders
      .filter((o) => o.status === 'OPEN' || o.status === 'PARTIALLY_FILLED')
      .map((o) => ({
        ...o,
        userId: o.user_id,
        price: BigInt(o.price),
        remaining: BigInt(o.remaining),
        minFill: BigInt(o.min_fill),
        paymentMethods: o.payment_methods,
        seq: BigInt(o.seq),
      }));
    const tradable = live.flatMap((buy) =>
      buy.side !== 'BUY'
        ? []
        : live
            .filter(
              (sell) =>
                sell.side === 'SELL' &&
                sell.fiat_currency === buy.fiat_currency &&
                fillBetween(buy, sell) !== undefined,
            )
            .map((sell) => `${buy.id} / ${sell.id}`),
    );
    expect(tradable).toEqual([]);
  }, 120_000);
});
