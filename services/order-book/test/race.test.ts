import request from 'supertest';
import type { Express } from 'express';
import { toUnits } from '@orrange/money';
import { placeSellHoldsCall } from '@orrange/queue';
import { eventually } from '@orrange/testing';
import { createApp } from '../src/app';
import { createHarness, type Harness } from './harness';
import { actors, bookInvariantViolations } from './helpers';

/**
 * Two replicas of the service on one database: many takers and crossing orders race for the same ads.
 * The market lock and the guarded writes must keep every fill within what the ad had.
 */
describe('two order-book replicas racing', () => {
  let harness: Harness;
  let apps: Express[];
  let t: ReturnType<typeof actors>;
  const TAKERS = 40;

  beforeAll(async () => {
    harness = await createHarness({ DB_POOL_MAX: '8' });
    apps = [createApp(harness), createApp(harness.replica())];
    t = actors(harness.runtime, apps[0]!, harness.testDb);
  });

  afterAll(() => harness.close());

  it('when many takers take one ad through both replicas at once, then the fills never sum past its amount', async () => {
    const ad = await t.placeFundedSell('racer-ad', { amount: '1', minFill: '0.01' });
    const answers = await Promise.all(
      Array.from({ length: TAKERS }, (_, i) =>
        request(apps[i % 2]!)
          .post(`/api/v1/orders/${ad}/take`)
          .set(t.as(`taker-${i}`))
          .send({ amount: '0.07', paymentMethod: 'SEPA' }),
      ),
    );
    // Any other answer is shown with its body, so that a failure says which.
    expect(answers.filter((r) => r.status !== 201 && r.status !== 409).map((r) => `${r.status} ${r.text}`)).toEqual([]);
    const filled = answers.filter((r) => r.status === 201).reduce((sum, r) => sum + toUnits(r.body.fill.amount, 8), 0n);
    expect(filled).toBe(14n * 7_000_000n);
    const [row] = await harness.runtime.db.query<{ remaining: string; matched: string }>(
      `SELECT o.remaining::text AS remaining, (SELECT COALESCE(sum(amount), 0)::text FROM matches WHERE maker_order_id = o.id) AS matched FROM orders o WHERE id = $1`,
      [ad],
    );
    expect(row).toEqual({ remaining: '0.02000000', matched: '0.98000000' });
  });

  it('when crossing BUY orders and takers race through both replicas, then no order is overfilled and amounts are conserved', async () => {
    const ads: string[] = [];
    for (let i = 0; i < 4; i += 1)
      ads.push(await t.placeFundedSell(`maker-${i}`, { fiatCurrency: 'EUR', price: `${100 + i}.00`, amount: '0.5' }));
    const work = Array.from({ length: TAKERS }, (_, i) =>
      i % 2 === 0
        ? request(apps[i % 2]!)
            .post('/api/v1/orders')
            .set(t.as(`buyer-${i}`))
            .send({
              side: 'BUY',
              asset: 'BTC',
              fiatCurrency: 'EUR',
              price: '110.00',
              amount: '0.09',
              paymentMethods: ['SEPA'],
            })
        : request(apps[i % 2]!)
            .post(`/api/v1/orders/${ads[i % 4]}/take`)
            .set(t.as(`taker-${i}`))
            .send({ amount: '0.06', paymentMethod: 'SEPA' }),
    );
    const answers = await Promise.all(work);
    expect(answers.every((r) => r.status === 201 || r.status === 409)).toBe(true);
    const orders = await harness.runtime.db.query<{
      id: string;
      amount: string;
      remaining: string;
      maker: string;
      taker: string;
    }>(
      `SELECT o.id, o.amount::text, o.remaining::text,
         (SELECT COALESCE(sum(amount), 0)::text FROM matches WHERE maker_order_id = o.id AND status = 'ACTIVE') AS maker,
         (SELECT COALESCE(sum(amount), 0)::text FROM matches WHERE taker_order_id = o.id AND status = 'ACTIVE') AS taker
       FROM orders o WHERE fiat_currency = 'EUR'`,
    );
    for (const o of orders) {
      const filled = toUnits(o.maker, 8) + toUnits(o.taker, 8);
      expect(toUnits(o.amount, 8) - toUnits(o.remaining, 8)).toBe(filled);
      expect(toUnits(o.remaining, 8) >= 0n).toBe(true);
    }
    // Demand (20 × 0.09 + 20 × 0.06 = 3 BTC) exceeds the 2 BTC supply: the asks are sold, never past it.
    const sold = orders
      .filter((o) => ads.includes(o.id))
      .reduce((sum, o) => sum + toUnits(o.amount, 8) - toUnits(o.remaining, 8), 0n);
    expect(sold > 0n && sold <= 200_000_000n).toBe(true);
    // Every fill has its trade with the escrow locked, from the ask's hold, which still holds exactly the ask's remainder.
    expect(await bookInvariantViolations(harness.testDb)).toEqual([]);
    // Both replicas' cached books catch up with the market's last change.
    const [market] = await harness.runtime.db.query<{ sequence: string }>(
      "SELECT sequence::text FROM markets WHERE asset = 'BTC' AND fiat_currency = 'EUR'",
    );
    for (const app of apps) {
      await eventually(
        async () =>
          (await request(app).get('/api/v1/orderbook').query({ asset: 'BTC', fiatCurrency: 'EUR' })).body.sequence ===
          Number(market!.sequence),
      );
    }
  });

  it('when many BUY orders arrive at once on one replica, then batches decide them in order and none rests crossed while asks remain', async () => {
    // 300 one-unit asks from other users; one pass of a BUY takes FILLS_PER_ORDER_MAX = 50 of them, and a BUY that
    // stops there with something left matches again in the same transaction: the first BUY takes all 300.
    await harness.runtime.db.query(
      `INSERT INTO orders (id, user_id, side, asset, fiat_currency, price, amount, remaining, min_fill, payment_methods, payment_window_minutes, status, live)
       SELECT gen_random_uuid(), 'dust-' || i, 'SELL', 'ETH', 'AED', 10, 0.00000001, 0.00000001, 0.00000001, ARRAY['SEPA'], 30, 'OPEN', true FROM generate_series(1, 300) i`,
    );
    // Each ask holds its unit, as a SELL placed through the API would.
    const asks = await harness.runtime.db.query<{ id: string; user_id: string }>(
      "SELECT id, user_id FROM orders WHERE fiat_currency = 'AED' AND side = 'SELL'",
    );
    for (const ask of asks) await t.fund(ask.user_id, 'ETH', '0.00000001');
    const holds = placeSellHoldsCall(
      asks.map((a) => ({ orderId: a.id, userId: a.user_id, asset: 'ETH', amount: '0.00000001' })),
    );
    await harness.runtime.db.query(holds.sql, holds.params);
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        request(apps[0]!)
          .post('/api/v1/orders')
          .set(t.as(`dust-buyer-${i}`))
          .send({
            side: 'BUY',
            asset: 'ETH',
            fiatCurrency: 'AED',
            price: '10.00',
            amount: '1',
            paymentMethods: ['SEPA'],
          }),
      ),
    );
    expect(answers.map((r) => r.status)).toEqual([201, 201, 201, 201, 201, 201]);
    expect(answers.map((r) => r.body.fills.length).sort((a, b) => a - b)).toEqual([0, 0, 0, 0, 0, 300]);
    expect(answers.map((r) => r.body.order.remaining).sort()).toEqual(['0.99999700', ...Array(5).fill('1.00000000')]);
    expect(await bookInvariantViolations(harness.testDb)).toEqual([]);
    const [left] = await harness.runtime.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM orders WHERE fiat_currency = 'AED' AND side = 'SELL' AND live",
    );
    expect(left?.n).toBe(0);
  });
});
