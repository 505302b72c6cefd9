import request from 'supertest';
import type { Express } from 'express';
import { IDENTITY_HEADER, signIdentity } from '@orrange/http';
import { createAppHarness, type Harness } from './harness';
import { bookInvariantViolations, ledgerBalance, type Actors } from './helpers';

/**
 * API.md "Trading essentials", abuse limits, with small limits so that each is reached in a few orders: open orders
 * per account (ORDER.LIMIT_REACHED), open trades per buyer (TRADE.LIMIT_REACHED), buyers suspended after their
 * trades were cancelled or expired (TRADE.BUYER_SUSPENDED), the merchant role's own limits, and the SELL side's
 * payment window on every trade.
 */
describe('abuse limits on the order path', () => {
  let harness: Harness;
  let app: Express;
  let t: Actors;
  const sql = <R = Record<string, unknown>>(text: string, params?: unknown[]) => harness.testDb.query<R>(text, params);
  const merchant = (userId: string) => ({
    [IDENTITY_HEADER]: signIdentity(
      { userId, roles: ['user', 'merchant'], scopes: null, via: 'jwt' },
      harness.runtime.config.INTERNAL_TOKEN_SECRET,
    ),
  });
  const openTradesOf = async (buyerId: string) =>
    (
      await sql<{ n: number }>(
        "SELECT count(*)::int AS n FROM trade.trades WHERE buyer_id = $1 AND status IN ('AWAITING_PAYMENT', 'PAID', 'DISPUTED')",
        [buyerId],
      )
    )[0]!.n;
  /** A seller's funded ask in `fiat`, and a buyer's BUY that takes it: one trade with `buyerId` as the buyer. */
  const tradeFor = async (buyerId: string, sellerId: string, fiat: string) => {
    await t.placeFundedSell(sellerId, { fiatCurrency: fiat, amount: '0.1' });
    const res = await t.place(buyerId, { fiatCurrency: fiat, amount: '0.1' });
    expect(res.body.fills).toHaveLength(1);
    return res.body.fills[0].tradeId as string;
  };

  beforeAll(async () => {
    ({ harness, app, t } = await createAppHarness({
      ORDERS_OPEN_MAX: '3',
      TRADES_OPEN_AS_BUYER_MAX: '2',
      MERCHANT_ORDERS_OPEN_MAX: '5',
      MERCHANT_TRADES_OPEN_MAX: '4',
      BUYER_CANCELS_MAX: '3',
    }));
  });

  afterAll(async () => {
    expect(await bookInvariantViolations(harness.testDb)).toEqual([]);
    await harness.close();
  });

  describe('open orders per account', () => {
    it('when an account has the most open orders, then one more is 409 ORDER.LIMIT_REACHED and nothing is stored or held', async () => {
      for (const price of ['10.00', '11.00', '12.00']) expect((await t.place('lim-a', { price })).status).toBe(201);
      const refused = await t.place('lim-a', { price: '13.00' });
      expect(refused.status).toBe(409);
      expect(refused.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(refused.body.code).toBe('ORDER.LIMIT_REACHED');
      expect(await sql("SELECT price::text FROM orders WHERE user_id = 'lim-a' ORDER BY price")).toEqual([
        { price: '10.00' },
        { price: '11.00' },
        { price: '12.00' },
      ]);

      // A SELL beyond the limit places no hold either.
      await t.fund('lim-a', 'BTC', '1');
      const sell = await t.place('lim-a', { side: 'SELL', price: '500.00' });
      expect(sell.body.code).toBe('ORDER.LIMIT_REACHED');
      expect(await ledgerBalance(harness.testDb, 'AVAILABLE', 'lim-a', 'BTC')).toBe('1.00000000');
      expect(await sql("SELECT order_id FROM trade.order_holds WHERE user_id = 'lim-a'")).toEqual([]);
    });

    it('when an open order is cancelled or filled, then its slot is free again', async () => {
      const [first] = await sql<{ id: string }>("SELECT id FROM orders WHERE user_id = 'lim-a' ORDER BY price LIMIT 1");
      expect((await request(app).delete(`/api/v1/orders/${first!.id}`).set(t.as('lim-a'))).status).toBe(200);
      expect((await t.place('lim-a', { price: '13.00' })).status).toBe(201);
      expect((await t.place('lim-a', { price: '14.00' })).body.code).toBe('ORDER.LIMIT_REACHED');
      // A seller sells into the best bid (14 was refused, 13.00 is it): lim-a's order is filled and counts no more.
      await t.placeFundedSell('lim-seller', { price: '13.00' });
      expect((await t.place('lim-a', { price: '14.00' })).status).toBe(201);
      expect(await sql("SELECT open_orders FROM user_order_counts WHERE user_id = 'lim-a'")).toEqual([
        { open_orders: 3 },
      ]);
    });

    it('when several orders of one account arrive together at the limit, then exactly the limit of them is placed', async () => {
      const results = await Promise.all(
        ['1.00', '2.00', '3.00', '4.00', '5.00'].map((price) => t.place('lim-burst', { price, fiatCurrency: 'EUR' })),
      );
      expect(results.map((r) => r.status).sort()).toEqual([201, 201, 201, 409, 409]);
      expect(await sql("SELECT count(*)::int AS n FROM orders WHERE user_id = 'lim-burst'")).toEqual([{ n: 3 }]);
    });

    it('when one account races orders across markets at the limit, then exactly the limit of them is placed', async () => {
      // Different markets run in parallel transactions: the count is checked where each order is counted, not by a lock.
      const markets = ['USD', 'EUR', 'GBP', 'NGN', 'INR', 'BRL'];
      for (let round = 0; round < 3; round++) {
        const user = `lim-markets-${round}`;
        const results = await Promise.all(
          markets.map((fiatCurrency) => t.place(user, { price: '1.00', fiatCurrency })),
        );
        expect(results.map((r) => r.status).sort()).toEqual([201, 201, 201, 409, 409, 409]);
        expect(results.filter((r) => r.status === 409).every((r) => r.body.code === 'ORDER.LIMIT_REACHED')).toBe(true);
        expect(await sql('SELECT count(*)::int AS n FROM orders WHERE user_id = $1', [user])).toEqual([{ n: 3 }]);
        expect(await sql('SELECT open_orders FROM user_order_counts WHERE user_id = $1', [user])).toEqual([
          { open_orders: 3 },
        ]);
      }
    });

    it('when the account has the merchant role, then its own, higher limit applies', async () => {
      const place = (price: string) =>
        request(app)
          .post('/api/v1/orders')
          .set(merchant('lim-merchant'))
          .send({ side: 'BUY', asset: 'BTC', fiatCurrency: 'GBP', price, amount: '1', paymentMethods: ['SEPA'] });
      for (const price of ['1.00', '2.00', '3.00', '4.00', '5.00']) expect((await place(price)).status).toBe(201);
      expect((await place('6.00')).body.code).toBe('ORDER.LIMIT_REACHED');
    });
  });

  describe('open trades per buyer', () => {
    it('when a buyer has the most open trades, then a BUY is 409 TRADE.LIMIT_REACHED and so is taking a SELL ad', async () => {
      await tradeFor('buyer-b', 'seller-b1', 'BRL');
      await tradeFor('buyer-b', 'seller-b2', 'BRL');
      const refused = await t.place('buyer-b', { fiatCurrency: 'BRL', price: '50.00' });
      expect(refused.status).toBe(409);
      expect(refused.body.code).toBe('TRADE.LIMIT_REACHED');
      const ad = await t.placeFundedSell('seller-b3', { fiatCurrency: 'BRL', price: '200.00' });
      const take = await request(app)
        .post(`/api/v1/orders/${ad}/take`)
        .set(t.as('buyer-b'))
        .send({ amount: '0.5', paymentMethod: 'SEPA' });
      expect(take.status).toBe(409);
      expect(take.body.code).toBe('TRADE.LIMIT_REACHED');
      expect(await openTradesOf('buyer-b')).toBe(2);
      expect((await request(app).get(`/api/v1/orders/${ad}`)).body.order.remaining).toBe('1.00000000');
    });

    it('when a BUY crosses more asks than its buyer has room for, then it fills as many as the room allows and rests', async () => {
      await tradeFor('buyer-c', 'seller-c1', 'INR');
      await t.placeFundedSell('seller-c2', { fiatCurrency: 'INR', price: '100.00', amount: '0.2' });
      await t.placeFundedSell('seller-c3', { fiatCurrency: 'INR', price: '100.00', amount: '0.2' });
      const res = await t.place('buyer-c', { fiatCurrency: 'INR', price: '100.00', amount: '0.4' });
      expect(res.status).toBe(201);
      expect(res.body.fills).toHaveLength(1);
      expect(res.body.order).toMatchObject({ remaining: '0.20000000', status: 'PARTIALLY_FILLED' });
      expect(await openTradesOf('buyer-c')).toBe(2);
    });

    it("when a SELL comes in and the best bid's buyer has no room, then it fills the next bid instead", async () => {
      await tradeFor('buyer-d', 'seller-d1', 'KES');
      await tradeFor('buyer-d', 'seller-d2', 'KES');
      // buyer-d's bid is best but buyer-d is at the limit: it stays in the book and is passed by.
      await sql(
        "INSERT INTO orders (id, user_id, side, asset, fiat_currency, price, amount, remaining, min_fill, payment_methods, payment_window_minutes, status, live) VALUES (gen_random_uuid(), 'buyer-d', 'BUY', 'BTC', 'KES', 120, 1, 1, 0.00000001, ARRAY['SEPA'], 30, 'OPEN', true)",
      );
      expect((await t.place('buyer-e', { fiatCurrency: 'KES', price: '110.00', amount: '0.1' })).status).toBe(201);
      await t.fund('seller-d3', 'BTC', '0.1');
      const res = await t.place('seller-d3', { side: 'SELL', fiatCurrency: 'KES', price: '100.00', amount: '0.1' });
      expect(res.body.fills).toHaveLength(1);
      expect(res.body.fills[0].price).toBe('110.00');
      expect(await openTradesOf('buyer-d')).toBe(2);
    });

    it('when a buyer races orders and takes across markets at the limit, then exactly the room is used', async () => {
      await tradeFor('buyer-r', 'seller-r0', 'AED');
      const fiats = ['ARS', 'JPY', 'AUD', 'GHS'];
      const ads = await Promise.all(
        fiats.map((fiat, i) => t.placeFundedSell(`seller-r${i + 1}`, { fiatCurrency: fiat, amount: '0.1' })),
      );
      const racing = await Promise.all([
        ...fiats.slice(0, 2).map((fiat) => t.place('buyer-r', { fiatCurrency: fiat, amount: '0.1' })),
        ...ads
          .slice(2)
          .map((ad) =>
            request(app)
              .post(`/api/v1/orders/${ad}/take`)
              .set(t.as('buyer-r'))
              .send({ amount: '0.1', paymentMethod: 'SEPA' }),
          ),
      ]);
      const opened = racing.filter((r) => r.status === 201 && (r.body.tradeId || r.body.fills?.length)).length;
      expect(opened).toBe(1);
      expect(racing.filter((r) => r.body.code === 'TRADE.LIMIT_REACHED').length).toBe(3);
      expect(await openTradesOf('buyer-r')).toBe(2);
    });

    it('when a buyer resumes paused bids in several markets at the limit, then exactly the room is used', async () => {
      await tradeFor('buyer-p', 'seller-p0', 'NGN');
      const markets = ['USD', 'EUR', 'GBP'].map((fiat) => ({ asset: 'ETH', fiatCurrency: fiat, amount: '0.1' }));
      const bids = await Promise.all(markets.map(async (m) => (await t.place('buyer-p', m)).body.order.id as string));
      for (const bid of bids)
        expect((await request(app).post(`/api/v1/orders/${bid}/pause`).set(t.as('buyer-p')).send({})).status).toBe(200);
      await Promise.all(markets.map((m, i) => t.placeFundedSell(`seller-p${i + 1}`, m)));
      const resumed = await Promise.all(
        bids.map((bid) => request(app).post(`/api/v1/orders/${bid}/resume`).set(t.as('buyer-p')).send({})),
      );
      expect(resumed.map((r) => r.status)).toEqual([200, 200, 200]);
      expect(resumed.flatMap((r) => r.body.fills)).toHaveLength(1);
      expect(await openTradesOf('buyer-p')).toBe(2);
    });

    it('when a merchant buys, then the merchant trade limit applies', async () => {
      const buy = (fiat: string) =>
        request(app)
          .post('/api/v1/orders')
          .set(merchant('buyer-m'))
          .send({
            side: 'BUY',
            asset: 'BTC',
            fiatCurrency: fiat,
            price: '100.00',
            amount: '0.1',
            paymentMethods: ['SEPA'],
          });
      for (let i = 0; i < 4; i += 1) {
        await t.placeFundedSell(`seller-m${i}`, { fiatCurrency: 'MXN', amount: '0.1' });
        expect((await buy('MXN')).body.fills).toHaveLength(1);
      }
      expect((await buy('MXN')).body.code).toBe('TRADE.LIMIT_REACHED');
    });
  });

  describe('buyers whose trades were cancelled or expired', () => {
    it("when 3 of a buyer's trades were cancelled or expired within 24 h, then buying is 403 TRADE.BUYER_SUSPENDED until 24 h after the third", async () => {
      for (let i = 0; i < 3; i += 1) {
        const tradeId = await tradeFor('buyer-s', `seller-s${i}`, 'TRY');
        // What trade-execution does when the buyer cancels or the payment deadline passes (its triggers count it).
        await sql(
          "UPDATE trade.trades SET status = 'CANCELLED', cancel_reason = $2, updated_at = now() WHERE id = $1",
          [tradeId, i === 0 ? 'PAYMENT_TIMEOUT' : 'BUYER_CANCELLED'],
        );
      }
      expect(await openTradesOf('buyer-s')).toBe(0);
      const buy = await t.place('buyer-s', { fiatCurrency: 'TRY', price: '10.00' });
      expect(buy.status).toBe(403);
      expect(buy.body.code).toBe('TRADE.BUYER_SUSPENDED');
      const ad = await t.placeFundedSell('seller-s9', { fiatCurrency: 'TRY', price: '300.00' });
      const take = await request(app)
        .post(`/api/v1/orders/${ad}/take`)
        .set(t.as('buyer-s'))
        .send({ amount: '0.5', paymentMethod: 'SEPA' });
      expect(take.body.code).toBe('TRADE.BUYER_SUSPENDED');
      // Selling is not buying: the suspended account may still sell.
      await t.fund('buyer-s', 'BTC', '0.1');
      expect(
        (await t.place('buyer-s', { side: 'SELL', fiatCurrency: 'TRY', price: '900.00', amount: '0.1' })).status,
      ).toBe(201);

      // 24 h after the third, the suspension is over.
      await sql(
        "UPDATE trade.buyer_standing SET recent_cancels = ARRAY(SELECT c - interval '24 hours 1 second' FROM unnest(recent_cancels) c) WHERE user_id = 'buyer-s'",
      );
      expect((await t.place('buyer-s', { fiatCurrency: 'TRY', price: '10.00' })).status).toBe(201);
    });

    it('when the cancels are spread over more than 24 h, then the buyer is not suspended', async () => {
      for (let i = 0; i < 3; i += 1) {
        const tradeId = await tradeFor('buyer-t', `seller-t${i}`, 'ZAR');
        await sql("UPDATE trade.trades SET status = 'CANCELLED', cancel_reason = 'BUYER_CANCELLED' WHERE id = $1", [
          tradeId,
        ]);
        if (i === 0)
          await sql(
            "UPDATE trade.buyer_standing SET recent_cancels = ARRAY[now() - interval '25 hours'] WHERE user_id = 'buyer-t'",
          );
      }
      expect((await t.place('buyer-t', { fiatCurrency: 'ZAR', price: '10.00' })).status).toBe(201);
    });

    it("when a suspended buyer's bid rests in the book, then incoming SELLs pass it by", async () => {
      await sql(
        "INSERT INTO trade.buyer_standing (user_id, recent_cancels) VALUES ('buyer-u', ARRAY[now() - interval '2 hours', now() - interval '1 hour', now()])",
      );
      await sql(
        "INSERT INTO orders (id, user_id, side, asset, fiat_currency, price, amount, remaining, min_fill, payment_methods, payment_window_minutes, status, live) VALUES (gen_random_uuid(), 'buyer-u', 'BUY', 'BTC', 'AED', 120, 1, 1, 0.00000001, ARRAY['SEPA'], 1440, 'OPEN', true)",
      );
      await t.fund('seller-u', 'BTC', '0.1');
      const res = await t.place('seller-u', { side: 'SELL', fiatCurrency: 'AED', price: '100.00', amount: '0.1' });
      expect(res.body.fills).toEqual([]);
      expect(res.body.order.status).toBe('OPEN');
    });
  });

  it("when a SELL meets a BUY with a longer payment window, then the trade has the SELL's window", async () => {
    expect((await t.place('buyer-w', { fiatCurrency: 'CHF', paymentWindowMinutes: 1440 })).status).toBe(201);
    await t.fund('seller-w', 'BTC', '1');
    const res = await t.place('seller-w', { side: 'SELL', fiatCurrency: 'CHF', paymentWindowMinutes: 15 });
    const [trade] = await sql<{ payment_window_minutes: number }>(
      'SELECT payment_window_minutes FROM trade.trades WHERE id = $1',
      [res.body.fills[0].tradeId],
    );
    expect(trade!.payment_window_minutes).toBe(15);
  });
});
