import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { Express } from 'express';
import fc from 'fast-check';
import { ASSET_SCALES, fromUnits, FIAT_CURRENCIES, type Asset, type FiatCurrency } from '@orrange/money';
import type { Runtime } from '@orrange/runtime';
import { createApp } from '../src/app';
import { fillBetween, matchOrder, type MatchableOrder } from '../src/domain/matching-engine';
import { statusForRemaining, type OrderStatus, type Side } from '../src/domain/order';
import { createHarness, type Harness } from './harness';
import { actors, bookInvariantViolations } from './helpers';

/**
 * Random mixes of BUY placements, cancellations and grouped hold.placed events. The oracle is the matching
 * engine applied one order at a time, in order, against the whole book in memory: the service, which reads
 * bounded candidate pages and decides a whole group per market at once, must end in the same state with
 * the same fills in the same order. A second mix runs everything at once on two replicas and checks what
 * must hold whatever the interleaving.
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
const phaseArb = fc.record({
  // Bids written straight into the table, resting unmatched: deep books whose candidate reads get cut.
  seeded: fc.array(buyArb, { maxLength: 40, size: 'max' }),
  buys: fc.array(fc.record({ order: buyArb, cancelAfter: rarely(6) }), { maxLength: 24, size: 'max' }),
  sells: fc.array(fc.record({ order: sellArb, cancelBefore: rarely(6), resent: rarely(5), deliveryRank: fc.nat(100) }), { minLength: 1, maxLength: 10 }),
});

type OrderInput = (typeof buyArb) extends fc.Arbitrary<infer T> ? T : never;

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

  add(id: string, side: Side, input: OrderInput, status: OrderStatus): void {
    const amount = BigInt(input.amount);
    const minFill = BigInt(Math.min(input.minFill, input.amount));
    this.orders.set(id, { id, side, market: input.market, userId: input.userId, price: BigInt(input.price), amount, remaining: amount, minFill, paymentMethods: input.paymentMethods, seq: (this.seq += 1n), status });
  }

  /** Matches an order that enters the book now; returns its fills. */
  enter(id: string): ModelFill[] {
    const order = this.orders.get(id)!;
    const resting = [...this.orders.values()].filter((o) => o.market === order.market && o.side !== order.side && (o.status === 'OPEN' || o.status === 'PARTIALLY_FILLED'));
    const result = matchOrder(order, resting);
    const fills = result.fills.map((fill) => {
      const maker = this.orders.get(fill.restingOrderId)!;
      maker.remaining -= fill.amount;
      maker.status = statusForRemaining(maker, maker.remaining);
      const [buy, sell] = order.side === 'BUY' ? [order, maker] : [maker, order];
      return { buyOrderId: buy.id, sellOrderId: sell.id, price: fromUnits(fill.price, 2), amount: fromUnits(fill.amount, SCALE), paymentMethod: fill.paymentMethod };
    });
    order.remaining = result.remaining;
    order.status = statusForRemaining(order, result.remaining);
    this.fills[order.market]!.push(...fills);
    return fills;
  }

  /** The hold of a pending SELL is in place; anything else (cancelled, opened before) is left alone. */
  fund(id: string): void {
    const order = this.orders.get(id)!;
    if (order.status !== 'PENDING_FUNDS') return;
    order.status = 'OPEN';
    this.enter(id);
  }

  cancel(id: string): boolean {
    const order = this.orders.get(id)!;
    if (!['PENDING_FUNDS', 'OPEN', 'PARTIALLY_FILLED'].includes(order.status)) return false;
    order.status = 'CANCELLED';
    return true;
  }
}

describe('grouped hold.placed against a one-at-a-time model', () => {
  let harness: Harness;
  let replica: Runtime;
  let apps: Express[];
  let t: ReturnType<typeof actors>;
  const sql = <R = Record<string, unknown>>(text: string, params?: unknown[]) => harness.runtime.db.query<R>(text, params);

  beforeAll(async () => {
    harness = await createHarness({ DB_POOL_MAX: '8' });
    replica = harness.replica();
    apps = [createApp({ runtime: harness.runtime }), createApp({ runtime: replica })];
    t = actors(harness.runtime, apps[0]!);
  });

  afterAll(() => harness.close());

  /** An order's request body; amounts are in the asset's smallest units. */
  const body = (side: Side, asset: Asset, fiatCurrency: FiatCurrency, o: OrderInput) => ({
    side, asset, fiatCurrency, price: fromUnits(BigInt(o.price), 2), amount: fromUnits(BigInt(o.amount), ASSET_SCALES[asset]),
    minFill: fromUnits(BigInt(Math.min(o.minFill, o.amount)), ASSET_SCALES[asset]), paymentMethods: o.paymentMethods,
  });
  /** Writes bids straight into the table (no matching), in the given order of time priority. */
  const seedBids = (markets: Array<[Asset, FiatCurrency]>, bids: Array<OrderInput & { id: string }>) => {
    const rows = bids.map((o, n) => {
      const [asset, fiatCurrency] = markets[o.market]!;
      const { price, amount, minFill } = body('BUY', asset, fiatCurrency, o);
      return { n, id: o.id, user_id: o.userId, asset, fiat_currency: fiatCurrency, price, amount, min_fill: minFill, payment_methods: o.paymentMethods };
    });
    return sql(
      `INSERT INTO orders (id, user_id, side, asset, fiat_currency, price, amount, remaining, min_fill, payment_methods, payment_window_minutes, status, live)
       SELECT r.id, r.user_id, 'BUY', r.asset, r.fiat_currency, r.price, r.amount, r.amount, r.min_fill, r.payment_methods, 30, 'OPEN', true
       FROM jsonb_to_recordset($1::jsonb) AS r(n int, id uuid, user_id text, asset text, fiat_currency text, price numeric, amount numeric, min_fill numeric, payment_methods text[])
       ORDER BY r.n`,
      [JSON.stringify(rows)],
    );
  };
  const cancel = (app: Express, userId: string, id: string) => request(app).delete(`/api/v1/orders/${id}`).set(t.as(userId));

  it('when random BUYs, cancellations and groups of funded SELLs are applied, then the book ends as the one-at-a-time model says', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(phaseArb, { minLength: 1, maxLength: 4 }), async (phases) => {
        // Each run has its own two markets (same asset scale), so runs never see each other's orders.
        const fiat = FIAT_CURRENCIES[run++]!;
        const markets: Array<[Asset, FiatCurrency]> = [['BTC', fiat], ['ETH', fiat]];
        const model = new BookModel();
        for (const phase of phases) {
          const seeded = phase.seeded.map((order) => ({ ...order, id: randomUUID() }));
          await seedBids(markets, seeded);
          for (const order of seeded) model.add(order.id, 'BUY', order, 'OPEN');
          const buyIds: string[] = [];
          for (const { order } of phase.buys) {
            const [asset, fiatCurrency] = markets[order.market]!;
            const res = await t.place(order.userId, body('BUY', asset, fiatCurrency, order));
            expect(res.status).toBe(201);
            buyIds.push(res.body.order.id);
            model.add(res.body.order.id, 'BUY', order, 'OPEN');
            const expected = model.enter(res.body.order.id).map((f) => ({ counterOrderId: f.sellOrderId, price: f.price, amount: f.amount }));
            expect(res.body.fills.map((f: Record<string, string>) => ({ counterOrderId: f.counterOrderId, price: f.price, amount: f.amount }))).toEqual(expected);
          }
          for (const [i, { order, cancelAfter }] of phase.buys.entries()) {
            if (cancelAfter) expect((await cancel(apps[0]!, order.userId, buyIds[i]!)).status).toBe(model.cancel(buyIds[i]!) ? 200 : 409);
          }
          const sells: Array<{ id: string; resent: boolean; deliveryRank: number }> = [];
          for (const { order, cancelBefore, resent, deliveryRank } of phase.sells) {
            const [asset, fiatCurrency] = markets[order.market]!;
            const res = await t.place(order.userId, body('SELL', asset, fiatCurrency, order));
            model.add(res.body.order.id, 'SELL', order, 'PENDING_FUNDS');
            if (cancelBefore) {
              expect((await cancel(apps[0]!, order.userId, res.body.order.id)).status).toBe(200);
              model.cancel(res.body.order.id);
            }
            sells.push({ id: res.body.order.id, resent, deliveryRank });
          }
          // Events in any order; some come twice (a new event id), later in the same group.
          const deliveries = [...sells].sort((a, b) => a.deliveryRank - b.deliveryRank).map((s) => s.id);
          deliveries.push(...sells.filter((s) => s.resent).map((s) => s.id));
          await t.deliverHoldsTogether(deliveries.map((orderId) => ({ orderId })));
          for (const id of deliveries) model.fund(id);

          const stored = await sql<{ id: string; status: OrderStatus; remaining: string }>(
            `SELECT id, status, remaining::text AS remaining FROM orders WHERE fiat_currency = $1 AND asset IN ('BTC', 'ETH') ORDER BY seq`,
            [fiat],
          );
          expect(stored).toEqual([...model.orders.values()].map((o) => ({ id: o.id, status: o.status, remaining: fromUnits(o.remaining, SCALE) })));
          for (const [index, [asset]] of markets.entries()) {
            const events = await sql<{ payload: Record<string, string> }>(
              `SELECT payload FROM outbox WHERE type = 'order.matched' AND payload->>'asset' = $1 AND payload->>'fiatCurrency' = $2 ORDER BY seq`,
              [asset, fiat],
            );
            expect(events.map(({ payload: p }) => ({ buyOrderId: p.buyOrderId, sellOrderId: p.sellOrderId, price: p.price, amount: p.amount, paymentMethod: p.paymentMethod }))).toEqual(model.fills[index]);
          }
        }
      }),
      { seed: 20261126, numRuns: 12, endOnFailure: true },
    );
    expect(await bookInvariantViolations(harness.runtime.db)).toEqual([]);
  }, 180_000);

  it('when BUYs, cancellations and groups of funded SELLs race on two replicas, then no maker is over-filled, every fill is announced and nothing that could trade is left resting', async () => {
    const fiats: FiatCurrency[] = ['USD', 'EUR', 'GBP'];
    const mixArb = fc.record({
      sells: fc.array(fc.record({ order: sellArb, market: fc.constantFrom(0, 1, 2), cancel: rarely(6), group: fc.nat(5) }), { minLength: 36, maxLength: 36 }),
      buys: fc.array(fc.record({ order: buyArb, market: fc.constantFrom(0, 1, 2) }), { minLength: 45, maxLength: 45 }),
    });
    const [mix] = fc.sample(mixArb, { seed: 1126, numRuns: 1 });
    // minFill of one unit: every crossing pair with a common method and two owners can trade, so none may rest.
    const unit = (o: OrderInput) => ({ ...o, minFill: 1 });
    const sells: Array<{ id: string; userId: string; cancel: boolean; group: number }> = [];
    for (const [i, s] of mix!.sells.entries()) {
      const res = await request(apps[i % 2]!).post('/api/v1/orders').set(t.as(s.order.userId)).send(body('SELL', 'USDT', fiats[s.market]!, unit(s.order)));
      sells.push({ id: res.body.order.id, userId: s.order.userId, cancel: s.cancel, group: s.group });
    }
    const replicas = [t, actors(replica, apps[1]!)];
    const groups = Array.from({ length: 6 }, (_, g) => sells.filter((s) => s.group === g).map((s) => ({ orderId: s.id })));
    await Promise.all([
      ...mix!.buys.map((b, i) => request(apps[i % 2]!).post('/api/v1/orders').set(t.as(b.order.userId)).send(body('BUY', 'USDT', fiats[b.market]!, unit(b.order))).expect(201)),
      // Each group also carries again the first hold of the next one (a redelivery racing the original).
      ...groups.map((group, g) => replicas[g % 2]!.deliverHoldsTogether([...group, ...(groups[(g + 1) % 6]!.slice(0, 1))])),
      ...sells.filter((s) => s.cancel).map((s, i) => cancel(apps[i % 2]!, s.userId, s.id)),
    ]);

    expect(await bookInvariantViolations(harness.runtime.db)).toEqual([]);
    const orders = await sql<{ id: string; user_id: string; side: Side; fiat_currency: string; price: string; remaining: string; min_fill: string; payment_methods: string[]; status: OrderStatus; seq: string }>(
      `SELECT id, user_id, side, fiat_currency, (price * 100)::bigint::text AS price, (remaining * 1000000)::bigint::text AS remaining, (min_fill * 1000000)::bigint::text AS min_fill,
         payment_methods, status, seq::text AS seq FROM orders WHERE asset = 'USDT' AND fiat_currency = ANY($1)`,
      [fiats],
    );
    expect(orders.filter((o) => sells.some((s) => s.id === o.id) && o.status === 'PENDING_FUNDS')).toEqual([]);
    const live = orders.filter((o) => o.status === 'OPEN' || o.status === 'PARTIALLY_FILLED')
      .map((o) => ({ ...o, userId: o.user_id, price: BigInt(o.price), remaining: BigInt(o.remaining), minFill: BigInt(o.min_fill), paymentMethods: o.payment_methods, seq: BigInt(o.seq) }));
    const tradable = live.flatMap((buy) => (buy.side !== 'BUY' ? [] : live.filter((sell) => sell.side === 'SELL' && sell.fiat_currency === buy.fiat_currency && fillBetween(buy, sell) !== undefined).map((sell) => `${buy.id} / ${sell.id}`)));
    expect(tradable).toEqual([]);
  }, 120_000);
});
