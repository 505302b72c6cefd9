import request from 'supertest';
import type { Express } from 'express';
import type { FiatCurrency } from '@orrange/money';
import type { Tx } from '@orrange/db';
import type { SqlExecutor } from '@orrange/queue';
import { createApp } from '../src/app';
import { openFundedOrders } from '../src/domain/order-funding.use-case';
import { orderBookOf } from '../src/order-book';
import { createHarness, type Harness } from './harness';
import { actors, bookInvariantViolations } from './helpers';

/**
 * hold.placed applied in bulk: a group of funded SELL orders is opened and matched with a few statements per
 * market, and every order must end exactly as if the events had been applied one at a time, in order.
 */
describe('funded SELL orders opened in groups', () => {
  let harness: Harness;
  let app: Express;
  let t: ReturnType<typeof actors>;
  const sql = <R = Record<string, unknown>>(text: string, params?: unknown[]) => harness.runtime.db.query<R>(text, params);

  beforeAll(async () => {
    harness = await createHarness();
    app = createApp({ runtime: harness.runtime });
    t = actors(harness.runtime, app);
  });

  afterAll(() => harness.close());

  const cancel = (userId: string, orderId: string) => request(app).delete(`/api/v1/orders/${orderId}`).set(t.as(userId)).expect(200);
  const order = async (id: string) => (await request(app).get(`/api/v1/orders/${id}`)).body.order as { status: string; remaining: string };
  const pendingSell = async (userId: string, body: Record<string, unknown>) => {
    const res = await t.place(userId, { side: 'SELL', ...body });
    expect(res.body.order.status).toBe('PENDING_FUNDS');
    return res.body.order.id as string;
  };
  const placeBuy = async (userId: string, body: Record<string, unknown>) => (await t.place(userId, body)).body.order.id as string;
  const sequences = async (fiats: FiatCurrency[]) =>
    (await sql<{ sequence: string }>(`SELECT sequence::text FROM markets WHERE asset = 'BTC' AND fiat_currency = ANY($1) ORDER BY array_position($1, fiat_currency)`, [fiats])).map((r) => Number(r.sequence));

  /**
   * The outcome of the markets, independent of ids: orders by their place in their market's time priority,
   * and each market's order.matched events in the order they were written.
   */
  async function outcome(fiats: FiatCurrency[]) {
    const orders = await sql<{ id: string; fiat_currency: FiatCurrency; rank: string; user_id: string; side: string; status: string; remaining: string }>(
      `SELECT id, fiat_currency, row_number() OVER (PARTITION BY fiat_currency ORDER BY seq)::text AS rank, user_id, side, status, remaining::text AS remaining
       FROM orders WHERE asset = 'BTC' AND fiat_currency = ANY($1) ORDER BY array_position($1, fiat_currency), seq`,
      [fiats],
    );
    const label = new Map(orders.map((o) => [o.id, `${fiats.indexOf(o.fiat_currency)}#${o.rank}`]));
    const events = await sql<{ payload: Record<string, string | null> }>(
      `SELECT payload FROM outbox WHERE type = 'order.matched' AND payload->>'asset' = 'BTC' AND payload->>'fiatCurrency' = ANY($1) ORDER BY seq`,
      [fiats],
    );
    return {
      orders: orders.map((o) => ({ order: label.get(o.id), user: o.user_id, side: o.side, status: o.status, remaining: o.remaining })),
      fills: fiats.map((fiat) =>
        events
          .map((e) => e.payload)
          .filter((p) => p.fiatCurrency === fiat)
          .map((p) => ({ buy: label.get(p.buyOrderId!), sell: label.get(p.sellOrderId!), buyer: p.buyerId, seller: p.sellerId, price: p.price, amount: p.amount, paymentMethod: p.paymentMethod, funding: p.sellerFunding })),
      ),
    };
  }

  /**
   * Two markets with resting BUY orders (one of them a seller's own), then SELL orders waiting for their holds,
   * one of them cancelled before its hold arrives. Returns the orders by name and the holds in event order.
   */
  async function twoMarkets([first, second]: [FiatCurrency, FiatCurrency]) {
    const ids: Record<string, string> = {};
    ids.b1 = await placeBuy('buyer-1', { fiatCurrency: first, price: '105.00', amount: '1' });
    ids.b2 = await placeBuy('seller-a', { fiatCurrency: first, price: '110.00', amount: '0.5' });
    ids.b3 = await placeBuy('buyer-2', { fiatCurrency: first, price: '100.00', amount: '0.3', minFill: '0.2' });
    ids.b4 = await placeBuy('buyer-3', { fiatCurrency: first, price: '103.00', amount: '0.4', paymentMethods: ['WIRE'] });
    ids.g1 = await placeBuy('buyer-4', { fiatCurrency: second, price: '50.00', amount: '2' });
    ids.g2 = await placeBuy('seller-b', { fiatCurrency: second, price: '60.00', amount: '1' });
    ids.s1 = await pendingSell('seller-a', { fiatCurrency: first, price: '100.00', amount: '0.8' });
    ids.h1 = await pendingSell('seller-a', { fiatCurrency: second, price: '49.00', amount: '0.5' });
    ids.s2 = await pendingSell('seller-b', { fiatCurrency: first, price: '101.00', amount: '1', paymentMethods: ['SEPA', 'WIRE'] });
    ids.s3 = await pendingSell('seller-c', { fiatCurrency: first, price: '99.00', amount: '0.5' });
    ids.h2 = await pendingSell('seller-b', { fiatCurrency: second, price: '48.00', amount: '2.5' });
    ids.s4 = await pendingSell('seller-c', { fiatCurrency: first, price: '99.00', amount: '0.5', minFill: '0.25' });
    ids.s5 = await pendingSell('seller-d', { fiatCurrency: first, price: '120.00', amount: '0.1' });
    await cancel('seller-c', ids.s3);
    return { ids, holds: ['s1', 'h1', 's2', 's3', 'h2', 's4', 's5'].map((name) => ids[name]!) };
  }

  it('when a group of funded SELLs from several sellers in two markets arrives, then it matches exactly as one event at a time would', async () => {
    const alone = await twoMarkets(['EUR', 'GBP']);
    for (const orderId of alone.holds) expect(await t.deliver('hold.placed', { orderId })).toBe('applied');

    const together = await twoMarkets(['CHF', 'JPY']);
    const before = await sequences(['CHF', 'JPY']);
    expect(await t.deliverHoldsTogether(together.holds.map((orderId) => ({ orderId })))).toEqual(Array(7).fill('applied'));
    // One write per market: the group was decided in one pass per market, not event by event.
    expect(await sequences(['CHF', 'JPY'])).toEqual(before.map((s) => s + 1));

    expect(await outcome(['CHF', 'JPY'])).toEqual(await outcome(['EUR', 'GBP']));
    const { ids } = together;
    // seller-a's SELL passes over seller-a's own better bid; seller-b's takes it.
    expect(await order(ids.s1!)).toMatchObject({ status: 'FILLED' });
    expect(await order(ids.s2!)).toMatchObject({ status: 'FILLED' });
    expect(await order(ids.b1!)).toMatchObject({ status: 'FILLED' });
    expect(await order(ids.b2!)).toMatchObject({ status: 'FILLED' });
    expect(await order(ids.b4!)).toMatchObject({ status: 'PARTIALLY_FILLED', remaining: '0.10000000' });
    const fills = await sql<{ sell: string; buy: string; price: string; amount: string; payment_method: string }>(
      `SELECT sell_order_id::text AS sell, buy_order_id::text AS buy, price::text, amount::text, payment_method FROM matches WHERE fiat_currency = 'CHF' ORDER BY created_at, amount`,
    );
    expect(fills.filter((f) => f.sell === ids.s1)).toEqual([{ sell: ids.s1, buy: ids.b1, price: '105.00', amount: '0.80000000', payment_method: 'SEPA' }]);
    expect(fills.filter((f) => f.sell === ids.s2).map((f) => [f.buy, f.price, f.amount, f.payment_method]).sort()).toEqual(
      [[ids.b2, '110.00', '0.50000000', 'SEPA'], [ids.b1, '105.00', '0.20000000', 'SEPA'], [ids.b4, '103.00', '0.30000000', 'WIRE']].sort(),
    );
    // Cancelled before its hold arrived: it stays cancelled and never trades.
    expect(await order(ids.s3!)).toMatchObject({ status: 'CANCELLED', remaining: '0.50000000' });
    expect(fills.filter((f) => f.sell === ids.s3)).toEqual([]);
    // Partial fill: its minFill let it take the whole small bid; the WIRE-only bid is not for it.
    expect(await order(ids.s4!)).toMatchObject({ status: 'PARTIALLY_FILLED', remaining: '0.20000000' });
    expect(await order(ids.s5!)).toMatchObject({ status: 'OPEN', remaining: '0.10000000' });
    // Second market: seller-b's SELL passes over seller-b's own bid that seller-a's SELL took half of.
    expect(await order(ids.h1!)).toMatchObject({ status: 'FILLED' });
    expect(await order(ids.h2!)).toMatchObject({ status: 'PARTIALLY_FILLED', remaining: '0.50000000' });
    expect(await order(ids.g1!)).toMatchObject({ status: 'FILLED' });
    expect(await order(ids.g2!)).toMatchObject({ status: 'PARTIALLY_FILLED', remaining: '0.50000000' });
    expect(await bookInvariantViolations(harness.runtime.db)).toEqual([]);
  });

  it('when hold.placed is delivered again, with the same event id or a new one, then nothing changes', async () => {
    const bid = await placeBuy('again-buyer', { fiatCurrency: 'CAD', price: '100.00', amount: '0.3' });
    const sell = await pendingSell('again-seller', { fiatCurrency: 'CAD', price: '100.00', amount: '0.4' });
    const eventId = '0d6a7c52-2b8e-4f7e-9d0a-3c1b2a4e5f60';
    expect(await t.deliver('hold.placed', { orderId: sell }, eventId)).toBe('applied');
    const state = async () => ({
      outcome: await outcome(['CAD']),
      sequences: await sequences(['CAD']),
      outbox: (await sql<{ n: number }>('SELECT count(*)::int AS n FROM outbox'))[0]!.n,
    });
    const opened = await state();
    expect(opened.outcome.orders.map((o) => o.status)).toEqual(['FILLED', 'PARTIALLY_FILLED']);

    expect(await t.deliver('hold.placed', { orderId: sell }, eventId)).toBe('duplicate');
    expect(await t.deliver('hold.placed', { orderId: sell })).toBe('applied');
    expect(await state()).toEqual(opened);

    // In a group: the same two again, and a fresh order whose hold comes twice (two event ids) is opened once.
    const fresh = await pendingSell('again-seller-2', { fiatCurrency: 'CAD', price: '90.00', amount: '0.2' });
    await placeBuy('again-buyer-2', { fiatCurrency: 'CAD', price: '95.00', amount: '1' });
    const outcomes = await t.deliverHoldsTogether([{ orderId: sell, eventId }, { orderId: sell }, { orderId: fresh }, { orderId: fresh }]);
    expect(outcomes).toEqual(['duplicate', 'applied', 'applied', 'applied']);
    expect(await order(bid)).toMatchObject({ status: 'FILLED', remaining: '0.00000000' });
    expect(await order(sell)).toMatchObject({ status: 'PARTIALLY_FILLED', remaining: '0.10000000' });
    expect(await order(fresh)).toMatchObject({ status: 'FILLED' });
    expect((await outcome(['CAD'])).fills[0]!.filter((f) => f.seller === 'again-seller-2')).toEqual([
      expect.objectContaining({ buyer: 'again-buyer-2', price: '95.00', amount: '0.20000000' }),
    ]);
    expect(await bookInvariantViolations(harness.runtime.db)).toEqual([]);
  });

  it('when the book is deeper than one candidate read, then the group still decides every SELL as one event at a time would', async () => {
    // 200 one-unit bids of seller-x at the best price fill a whole CANDIDATES_MAX read; 60 of others wait behind them.
    const deepBook = async (fiat: FiatCurrency) => {
      await sql(
        `INSERT INTO orders (id, user_id, side, asset, fiat_currency, price, amount, remaining, min_fill, payment_methods, payment_window_minutes, status, live)
         SELECT gen_random_uuid(), CASE WHEN i <= 200 THEN 'seller-x' ELSE 'deep-buyer-' || i END, 'BUY', 'BTC', $1, CASE WHEN i <= 200 THEN 200 ELSE 190 END,
           0.00000001, 0.00000001, 0.00000001, ARRAY['SEPA'], 30, 'OPEN', true
         FROM generate_series(1, 260) i ORDER BY i`,
        [fiat],
      );
      const sell = (userId: string, amount: string) => pendingSell(userId, { fiatCurrency: fiat, price: '150.00', amount });
      // seller-x first: the shared read holds only its own bids, so it is decided on a read of its own.
      return [await sell('seller-x', '0.0000003'), await sell('seller-y', '0.0000006'), await sell('seller-z', '0.00000005'),
        await sell('seller-v1', '0.0000005'), await sell('seller-v2', '0.0000005'), await sell('seller-v3', '0.0000005')];
    };
    const alone = await deepBook('ZAR');
    for (const orderId of alone) await t.deliver('hold.placed', { orderId });
    const together = await deepBook('TRY');
    expect(await t.deliverHoldsTogether(together.map((orderId) => ({ orderId })))).toEqual(Array(6).fill('applied'));

    const grouped = await outcome(['TRY']);
    expect(grouped).toEqual(await outcome(['ZAR']));
    const [x, y, z, v1, v2, v3] = together;
    const fillsOf = (id: string) => sql<{ price: string; buyer_id: string }>('SELECT price::text, buyer_id FROM matches WHERE sell_order_id = $1', [id]);
    const xFills = await fillsOf(x!);
    expect(xFills).toHaveLength(30);
    expect(xFills.every((f) => f.price === '190.00' && f.buyer_id !== 'seller-x')).toBe(true);
    expect(await order(x!)).toMatchObject({ status: 'FILLED' });
    // FILLS_PER_ORDER_MAX bounds a pass: 50 fills, the rest rests.
    expect(await fillsOf(y!)).toHaveLength(50);
    expect(await order(y!)).toMatchObject({ status: 'PARTIALLY_FILLED', remaining: '0.00000010' });
    for (const id of [z!, v1!, v2!]) expect(await order(id)).toMatchObject({ status: 'FILLED' });
    // The last one outran the read of 200 (45 bids were left in it): it was decided on a fresh read.
    expect((await fillsOf(v3!)).map((f) => f.price).sort()).toEqual([...Array(45).fill('200.00'), ...Array(5).fill('190.00')].sort());
    expect(await bookInvariantViolations(harness.runtime.db)).toEqual([]);
  });

  it('when a match would have the same buyer and seller, then the database refuses it', async () => {
    const bid = await placeBuy('self-trader', { fiatCurrency: 'KES', price: '100.00', amount: '0.1' });
    await expect(sql(
      `INSERT INTO matches (id, trade_id, maker_order_id, taker_order_id, buy_order_id, sell_order_id, buyer_id, seller_id, asset, fiat_currency, price, amount, payment_method, payment_window_minutes, seller_funding)
       VALUES (gen_random_uuid(), gen_random_uuid(), $1, NULL, $1, NULL, 'self-trader', 'self-trader', 'BTC', 'KES', 100, 0.1, 'SEPA', 30, 'AVAILABLE')`,
      [bid],
    )).rejects.toThrow(/matches_no_self_trade_check/);
  });

  it('when 24 funded SELLs in two markets are opened together, then it costs the same few statements as one per market', async () => {
    const counted = async (orderIds: string[]) => {
      let statements = 0;
      const opened = await harness.runtime.db.transaction(async (tx) => {
        const counting: SqlExecutor & Pick<Tx, 'afterCommit'> = {
          query: (text, params) => {
            statements += 1;
            return tx.query(text, params);
          },
          afterCommit: (effect) => tx.afterCommit(effect),
        };
        return openFundedOrders(orderBookOf(harness.runtime).deps, counting, orderIds);
      });
      return { opened, statements };
    };
    const sells: string[] = [];
    for (const fiat of ['GHS', 'ARS'] as const) {
      for (let i = 0; i < 10; i += 1) await placeBuy(`rt-buyer-${i}`, { fiatCurrency: fiat, price: `${100 + i}.00`, amount: '0.05' });
      for (let i = 0; i < 12; i += 1) sells.push(await pendingSell(`rt-seller-${i}`, { fiatCurrency: fiat, price: `${95 + i}.00`, amount: '0.07' }));
    }
    const lone = await pendingSell('rt-seller-lone', { fiatCurrency: 'MXN', price: '10.00', amount: '0.1' });
    await placeBuy('rt-buyer-lone', { fiatCurrency: 'MXN', price: '10.00', amount: '0.05' });

    // Lock the markets, load the orders, then per market one candidate read and one write.
    expect(await counted(sells)).toEqual({ opened: 24, statements: 2 + 2 * 2 });
    expect(await counted([lone])).toEqual({ opened: 1, statements: 4 });
    // Nothing left to open: the markets are locked, nothing is pending, nothing else is done.
    expect(await counted([...sells, lone])).toEqual({ opened: 0, statements: 2 });
    expect(await bookInvariantViolations(harness.runtime.db)).toEqual([]);
  });
});
