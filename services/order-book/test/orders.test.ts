import request from 'supertest';
import type { Express } from 'express';
import { eventually } from '@orrange/testing';
import { createAppHarness, type Harness } from './harness';
import { bookInvariantViolations, ledgerBalance, type Actors } from './helpers';

/** A BUY far below every ask of these tests: it rests without matching. */
const RESTING_BUY = {
  side: 'BUY',
  asset: 'BTC',
  fiatCurrency: 'GBP',
  price: '1.00',
  amount: '0.1',
  paymentMethods: ['SEPA'],
};

describe('orders through the HTTP API', () => {
  let harness: Harness;
  let app: Express;
  let t: Actors;
  const sql = <R = Record<string, unknown>>(text: string, params?: unknown[]) => harness.testDb.query<R>(text, params);
  const outbox = (type: string) =>
    sql<{ payload: Record<string, unknown> }>('SELECT payload FROM outbox WHERE type = $1 ORDER BY seq', [type]);
  const tradesOf = (buyerId: string) =>
    sql<Record<string, unknown>>(
      `SELECT id, buy_order_id, sell_order_id, seller_id, price::text, amount::text, fiat_amount::text, payment_method, status, escrow_status
       FROM trade.trades WHERE buyer_id = $1 ORDER BY price, id`,
      [buyerId],
    );

  /**
   * Sends a request while another request of the same caller (another market's transaction) has recorded its key
   * with another body and not committed yet: it commits once the request waits on the key.
   */
  const sentWhileKeyRecordedElsewhere = async (scope: string, key: string, send: () => request.Test) => {
    const { sent } = await harness.testDb.transaction(async (client) => {
      await client.query(
        `INSERT INTO idempotency_keys (scope, key, request_hash, status_code, content_type, response_body, completed_at)
         VALUES ($1, $2, 'another-body', 201, 'application/json; charset=utf-8', '{}', now())`,
        [scope, key],
      );
      const sent = send().then((res) => res);
      await eventually(
        async () =>
          (
            await sql<{ n: number }>(
              `SELECT count(*)::int AS n FROM pg_stat_activity
               WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO idempotency_keys%'`,
            )
          )[0]!.n === 1,
      );
      return { sent }; // not the promise itself: the transaction would wait for it, and commit only after it
    });
    return sent;
  };

  beforeAll(async () => {
    ({ harness, app, t } = await createAppHarness());
  });

  afterAll(() => harness.close());

  describe('placing', () => {
    it('when a funded SELL order is placed, then it is OPEN at once and its amount is held in the ledger', async () => {
      await t.fund('seller-1', 'ETH', '3');
      const res = await t.place('seller-1', {
        side: 'SELL',
        asset: 'ETH',
        amount: '2.5',
        minFill: '0.5',
        price: '2000.5',
        paymentMethods: [' bank  transfer ', 'Sepa'],
        terms: 'be quick',
      });
      expect(res.status).toBe(201);
      expect(res.body.fills).toEqual([]);
      const order = res.body.order;
      expect(order).toMatchObject({
        userId: 'seller-1',
        side: 'SELL',
        asset: 'ETH',
        fiatCurrency: 'USD',
        price: '2000.50',
        amount: '2.50000000',
        remaining: '2.50000000',
        minFill: '0.50000000',
        paymentMethods: ['BANK TRANSFER', 'SEPA'],
        paymentWindowMinutes: 30,
        terms: 'be quick',
        status: 'OPEN',
        rejectReason: null,
      });
      expect(await ledgerBalance(harness.testDb, 'HELD', 'seller-1', 'ETH', order.id)).toBe('2.50000000');
      expect(await ledgerBalance(harness.testDb, 'AVAILABLE', 'seller-1', 'ETH')).toBe('0.50000000');
      const after = await request(app).get(`/api/v1/orders/${order.id}`);
      expect(after.body.order.status).toBe('OPEN');
      expect(after.body.order).not.toHaveProperty('rejectReason');
    });

    it("when a SELL order is beyond the seller's balance, then 409 WALLET.INSUFFICIENT_FUNDS and nothing is stored or held", async () => {
      await t.fund('seller-2', 'BTC', '0.5');
      const res = await t.place('seller-2', { side: 'SELL', amount: '0.6' });
      expect(res.status).toBe(409);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.body.code).toBe('WALLET.INSUFFICIENT_FUNDS');
      expect(await sql("SELECT id FROM orders WHERE user_id = 'seller-2'")).toEqual([]);
      expect(await ledgerBalance(harness.testDb, 'AVAILABLE', 'seller-2', 'BTC')).toBe('0.50000000');
      expect(await sql("SELECT order_id FROM trade.order_holds WHERE user_id = 'seller-2'")).toEqual([]);
    });

    it('when SELLs of one seller arrive together and only the first fits, then the first is placed and the second refused', async () => {
      await t.fund('seller-3', 'BTC', '1');
      const [first, second] = await Promise.all([
        t.place('seller-3', { side: 'SELL', fiatCurrency: 'ARS', amount: '0.7' }),
        t.place('seller-3', { side: 'SELL', fiatCurrency: 'ARS', amount: '0.7' }),
      ]);
      expect([first.status, second.status].sort()).toEqual([201, 409]);
      expect(await ledgerBalance(harness.testDb, 'AVAILABLE', 'seller-3', 'BTC')).toBe('0.30000000');
    });

    it("when a BUY crosses asks, then it fills at the asks' prices best first and answers the fills", async () => {
      const cheap = await t.placeFundedSell('maker-a', { asset: 'USDT', price: '1.01', amount: '30' });
      const dear = await t.placeFundedSell('maker-b', { asset: 'USDT', price: '1.02', amount: '30' });
      await t.placeFundedSell('maker-c', { asset: 'USDT', price: '1.10', amount: '30' });
      const res = await t.place('taker-a', { asset: 'USDT', price: '1.05', amount: '50' });
      expect(res.status).toBe(201);
      expect(res.body.order).toMatchObject({ status: 'FILLED', remaining: '0.000000', amount: '50.000000' });
      expect(res.body.fills).toEqual([
        {
          matchId: expect.any(String),
          tradeId: expect.any(String),
          counterOrderId: cheap,
          price: '1.01',
          amount: '30.000000',
        },
        {
          matchId: expect.any(String),
          tradeId: expect.any(String),
          counterOrderId: dear,
          price: '1.02',
          amount: '20.000000',
        },
      ]);
      const dearNow = await request(app).get(`/api/v1/orders/${dear}`);
      expect(dearNow.body.order).toMatchObject({ status: 'PARTIALLY_FILLED', remaining: '10.000000' });
      const trades = await tradesOf('taker-a');
      expect(trades).toEqual([
        expect.objectContaining({
          id: res.body.fills[0].tradeId,
          buy_order_id: res.body.order.id,
          sell_order_id: cheap,
          seller_id: 'maker-a',
          price: '1.01',
          amount: '30.00000000',
          payment_method: 'SEPA',
          status: 'AWAITING_PAYMENT',
          escrow_status: 'LOCKED',
        }),
        expect.objectContaining({ sell_order_id: dear, amount: '20.00000000' }),
      ]);
      // The escrow came out of the makers' holds, in the same commit as the fills.
      expect(await ledgerBalance(harness.testDb, 'HELD', 'maker-b', 'USDT', dear)).toBe('10.00000000');
      expect(await ledgerBalance(harness.testDb, 'ESCROW', 'maker-b', 'USDT', res.body.fills[1].tradeId)).toBe(
        '20.00000000',
      );
    });

    it('when a funded SELL crosses a resting BUY, then it matches at once at the bid price', async () => {
      const bid = await t.place('bidder', { asset: 'USDC', price: '1.00', amount: '10' });
      expect(bid.body.order.status).toBe('OPEN');
      const sell = await t.placeFundedSell('asker', { asset: 'USDC', price: '0.99', amount: '4' });
      expect((await request(app).get(`/api/v1/orders/${sell}`)).body.order).toMatchObject({
        status: 'FILLED',
        remaining: '0.000000',
      });
      expect((await request(app).get(`/api/v1/orders/${bid.body.order.id}`)).body.order).toMatchObject({
        status: 'PARTIALLY_FILLED',
        remaining: '6.000000',
      });
      const [m] = await sql<{ price: string; amount: string }>(
        'SELECT price::text, amount::text FROM matches WHERE sell_order_id = $1',
        [sell],
      );
      expect(m).toEqual({ price: '1.00', amount: '4.00000000' });
    });

    it('when an order needs more makers than the first short candidate read holds, then it fills across all of them best first', async () => {
      // 20 asks (more than CANDIDATES_FIRST_PAGE + 1), the dearest first in time: a BUY for all of them fills 20 times, cheapest first.
      const asks: string[] = [];
      for (let i = 0; i < 20; i += 1)
        asks.push(
          await t.placeFundedSell(`deep-ask-${i}`, { fiatCurrency: 'GBP', price: `${120 - i}.00`, amount: '0.1' }),
        );
      const buy = await t.place('deep-taker', { fiatCurrency: 'GBP', price: '120.00', amount: '2' });
      expect(buy.body.order).toMatchObject({ status: 'FILLED', remaining: '0.00000000' });
      expect(buy.body.fills.map((f: { counterOrderId: string }) => f.counterOrderId)).toEqual([...asks].reverse());

      // 20 bids, then one funded SELL for all of them: it fills 20 times, highest bid first.
      const bids: string[] = [];
      for (let i = 0; i < 20; i += 1)
        bids.push(
          (await t.place(`deep-bid-${i}`, { fiatCurrency: 'CHF', price: `${100 + i}.00`, amount: '0.1' })).body.order
            .id,
        );
      const sell = await t.placeFundedSell('deep-seller', { fiatCurrency: 'CHF', price: '100.00', amount: '2' });
      expect((await request(app).get(`/api/v1/orders/${sell}`)).body.order).toMatchObject({
        status: 'FILLED',
        remaining: '0.00000000',
      });
      const fills = await sql<{ buy_order_id: string }>(
        'SELECT buy_order_id FROM matches WHERE sell_order_id = $1 ORDER BY price DESC',
        [sell],
      );
      expect(fills.map((f) => f.buy_order_id)).toEqual([...bids].reverse());
    });

    it('when prices and sequence numbers straddle a power of ten, then best price and time priority still hold', async () => {
      // More bids at 9.00 than a short candidate read holds, then one at 10.00: as text, '9.00' sorts before '10.00'.
      for (let i = 0; i < 20; i += 1)
        await t.place(`digits-bid-${i}`, { fiatCurrency: 'GHS', price: '9.00', amount: '0.1' });
      const best = (await t.place('digits-best', { fiatCurrency: 'GHS', price: '10.00', amount: '0.1' })).body.order.id;
      const listed = await request(app)
        .get('/api/v1/orders')
        .query({ asset: 'BTC', fiatCurrency: 'GHS', side: 'BUY', limit: 2 });
      expect(listed.body.data.map((o: { price: string }) => o.price)).toEqual(['10.00', '9.00']);
      const sell = await t.placeFundedSell('digits-seller', { fiatCurrency: 'GHS', price: '9.00', amount: '0.1' });
      const [m] = await sql<{ buy_order_id: string; price: string }>(
        'SELECT buy_order_id::text, price::text FROM matches WHERE sell_order_id = $1',
        [sell],
      );
      expect(m).toEqual({ buy_order_id: best, price: '10.00' });

      await sql(
        `INSERT INTO orders (id, user_id, side, asset, fiat_currency, price, amount, remaining, min_fill, payment_methods, payment_window_minutes, status, live, seq)
         VALUES (gen_random_uuid(), 'digits-mine', 'BUY', 'BTC', 'GHS', 1, 1, 1, 1, ARRAY['SEPA'], 30, 'OPEN', true, 99999999),
                (gen_random_uuid(), 'digits-mine', 'BUY', 'BTC', 'GHS', 2, 1, 1, 1, ARRAY['SEPA'], 30, 'OPEN', true, 100000000)`,
      );
      const mine = await request(app).get('/api/v1/orders/mine').set(t.as('digits-mine'));
      expect(mine.body.data.map((o: { price: string }) => o.price)).toEqual(['2.00', '1.00']);
    });

    it('when the only crossing ask is my own, then nothing matches', async () => {
      await t.placeFundedSell('self', { fiatCurrency: 'EUR', price: '90.00' });
      const res = await t.place('self', { fiatCurrency: 'EUR', price: '95.00' });
      expect(res.body.fills).toEqual([]);
      expect(res.body.order.status).toBe('OPEN');
    });

    it('when the same Idempotency-Key is sent twice, then one order exists and the answer is replayed', async () => {
      const body = {
        side: 'BUY',
        asset: 'BTC',
        fiatCurrency: 'GBP',
        price: '10.00',
        amount: '0.1',
        paymentMethods: ['SEPA'],
      };
      const first = await request(app)
        .post('/api/v1/orders')
        .set(t.as('idem'))
        .set('Idempotency-Key', 'k-1')
        .send(body);
      const second = await request(app)
        .post('/api/v1/orders')
        .set(t.as('idem'))
        .set('Idempotency-Key', 'k-1')
        .send(body);
      expect(second.status).toBe(201);
      expect(second.body.order.id).toBe(first.body.order.id);
      const [row] = await sql<{ n: number }>("SELECT count(*)::int AS n FROM orders WHERE user_id = 'idem'");
      const n = row?.n;
      expect(n).toBe(1);
    });

    it('when a key is reused with another body, then 422 and nothing more is placed', async () => {
      const body = {
        side: 'BUY',
        asset: 'BTC',
        fiatCurrency: 'GBP',
        price: '10.00',
        amount: '0.1',
        paymentMethods: ['SEPA'],
      };
      expect(
        (await request(app).post('/api/v1/orders').set(t.as('idem-2')).set('Idempotency-Key', 'k-2').send(body)).status,
      ).toBe(201);
      const other = await request(app)
        .post('/api/v1/orders')
        .set(t.as('idem-2'))
        .set('Idempotency-Key', 'k-2')
        .send({ ...body, amount: '0.2' });
      expect(other.status).toBe(422);
      expect(other.body.code).toBe('IDEMPOTENCY.KEY_REUSED');
      expect(await sql("SELECT amount::text FROM orders WHERE user_id = 'idem-2'")).toEqual([{ amount: '0.10000000' }]);
    });

    it('when a key was last used before the retention, then it is free: the order is placed and the key recorded anew', async () => {
      await sql(
        `INSERT INTO idempotency_keys (scope, key, request_hash, status_code, content_type, response_body, created_at, completed_at)
         VALUES ('user:idem-old', 'k-old', 'a-day-old-body', 201, 'application/json; charset=utf-8', '{}', now() - interval '25 hours', now() - interval '25 hours')`,
      );
      const res = await request(app)
        .post('/api/v1/orders')
        .set(t.as('idem-old'))
        .set('Idempotency-Key', 'k-old')
        .send(RESTING_BUY);
      expect(res.status).toBe(201);
      const [row] = await sql<{ request_hash: string; fresh: boolean }>(
        `SELECT request_hash, created_at > now() - interval '1 minute' AS fresh FROM idempotency_keys WHERE scope = 'user:idem-old' AND key = 'k-old'`,
      );
      expect(row).toEqual({ request_hash: expect.not.stringMatching('a-day-old-body'), fresh: true });
    });

    it('when another request records the key while an order is on its way, then the order waits for it, finds the key taken, and nothing is placed', async () => {
      const answer = await sentWhileKeyRecordedElsewhere('user:idem-late', 'k-late', () =>
        request(app).post('/api/v1/orders').set(t.as('idem-late')).set('Idempotency-Key', 'k-late').send(RESTING_BUY),
      );
      expect(answer.status).toBe(422);
      expect(answer.body.code).toBe('IDEMPOTENCY.KEY_REUSED');
      expect(await sql("SELECT id FROM orders WHERE user_id = 'idem-late'")).toEqual([]);
    });

    it('when a refused SELL is sent again with its key, then the same 409 is replayed and nothing is held', async () => {
      const body = {
        side: 'SELL',
        asset: 'BTC',
        fiatCurrency: 'GBP',
        price: '10.00',
        amount: '5',
        paymentMethods: ['SEPA'],
      };
      const first = await request(app)
        .post('/api/v1/orders')
        .set(t.as('idem-poor'))
        .set('Idempotency-Key', 'k-3')
        .send(body);
      expect(first.status).toBe(409);
      await t.fund('idem-poor', 'BTC', '5');
      const again = await request(app)
        .post('/api/v1/orders')
        .set(t.as('idem-poor'))
        .set('Idempotency-Key', 'k-3')
        .send(body);
      expect(again.status).toBe(409);
      expect(again.headers['idempotency-replayed']).toBe('true');
      expect(again.body).toEqual(first.body);
      expect(await sql("SELECT id FROM orders WHERE user_id = 'idem-poor'")).toEqual([]);
    });

    it('when one key is sent many times at once, then exactly one order exists and every other answer is its replay or in progress', async () => {
      await t.fund('idem-race', 'BTC', '1');
      const body = {
        side: 'SELL',
        asset: 'BTC',
        fiatCurrency: 'AUD',
        price: '10.00',
        amount: '0.5',
        paymentMethods: ['SEPA'],
      };
      const answers = await Promise.all(
        Array.from({ length: 8 }, () =>
          request(app).post('/api/v1/orders').set(t.as('idem-race')).set('Idempotency-Key', 'k-race').send(body),
        ),
      );
      const placed = answers.filter((r) => r.status === 201);
      expect(new Set(placed.map((r) => r.body.order.id)).size).toBe(1);
      for (const r of answers.filter((a) => a.status !== 201)) expect(r.body.code).toBe('IDEMPOTENCY.IN_PROGRESS');
      expect(await sql("SELECT count(*)::int AS n FROM orders WHERE user_id = 'idem-race'")).toEqual([{ n: 1 }]);
      expect(await ledgerBalance(harness.testDb, 'AVAILABLE', 'idem-race', 'BTC')).toBe('0.50000000');
    });

    it('when a retried SELL arrives with new SELLs of its market, then it is replayed and the others are placed and held', async () => {
      await t.fund('idem-mix', 'ETH', '3');
      const sell = (key: string, amount: string) =>
        request(app)
          .post('/api/v1/orders')
          .set(t.as('idem-mix'))
          .set('Idempotency-Key', key)
          .send({ side: 'SELL', asset: 'ETH', fiatCurrency: 'AUD', price: '10.00', amount, paymentMethods: ['SEPA'] });
      const first = await sell('k-mix-1', '1');
      const [retry, second, third] = await Promise.all([
        sell('k-mix-1', '1'),
        sell('k-mix-2', '0.5'),
        sell('k-mix-3', '0.25'),
      ]);
      expect(retry.status).toBe(201);
      expect(retry.body.order.id).toBe(first.body.order.id);
      expect([second.status, third.status]).toEqual([201, 201]);
      expect(await ledgerBalance(harness.testDb, 'AVAILABLE', 'idem-mix', 'ETH')).toBe('1.25000000');
      expect(await bookInvariantViolations(harness.testDb)).toEqual([]);
    });

    it('when a take is sent again with its key, then the same trade is answered and the ad is taken once', async () => {
      const ad = await t.placeFundedSell('idem-ad', { fiatCurrency: 'AUD', price: '20.00', amount: '1' });
      const take = () =>
        request(app)
          .post(`/api/v1/orders/${ad}/take`)
          .set(t.as('idem-taker'))
          .set('Idempotency-Key', 'k-take')
          .send({ amount: '0.4', paymentMethod: 'SEPA' });
      const first = await take();
      const again = await take();
      expect([first.status, again.status]).toEqual([201, 201]);
      expect(again.body).toEqual(first.body);
      expect((await request(app).get(`/api/v1/orders/${ad}`)).body.order.remaining).toBe('0.60000000');
    });

    it('when another request records the key while a take is on its way, then the take finds the key taken and the ad is untouched', async () => {
      const ad = await t.placeFundedSell('idem-late-ad', { fiatCurrency: 'AUD', price: '21.00', amount: '1' });
      const answer = await sentWhileKeyRecordedElsewhere('user:idem-late-taker', 'k-late-take', () =>
        request(app)
          .post(`/api/v1/orders/${ad}/take`)
          .set(t.as('idem-late-taker'))
          .set('Idempotency-Key', 'k-late-take')
          .send({ amount: '0.4', paymentMethod: 'SEPA' }),
      );
      expect(answer.status).toBe(422);
      expect(answer.body.code).toBe('IDEMPOTENCY.KEY_REUSED');
      expect((await request(app).get(`/api/v1/orders/${ad}`)).body.order.remaining).toBe('1.00000000');
      expect(await tradesOf('idem-late-taker')).toEqual([]);
    });

    it.each([
      ['a float amount', { amount: 1.5 }],
      ['an exponent', { amount: '1e3' }],
      ['too many decimals for BTC', { amount: '0.000000001' }],
      ['too many decimals for USDT', { asset: 'USDT', amount: '1.0000001' }],
      ['a price with 3 decimals', { price: '1.005' }],
      ['a zero amount', { amount: '0.00' }],
      ['a negative price', { price: '-1.00' }],
      ['an unknown field', { status: 'FILLED' }],
      ['an unknown asset', { asset: 'DOGE' }],
      ['an unknown fiat', { fiatCurrency: 'XXX' }],
      ['minFill above amount', { minFill: '2' }],
      ['no payment methods', { paymentMethods: [] }],
      ['11 payment methods', { paymentMethods: Array.from({ length: 11 }, (_, i) => `M${i}`) }],
      ['duplicate payment methods after normalizing', { paymentMethods: ['sepa', ' SEPA'] }],
      ['a payment method with odd characters', { paymentMethods: ['<script>'] }],
      ['a payment window of 10 minutes', { paymentWindowMinutes: 10 }],
      ['terms over 1000 characters', { terms: 'x'.repeat(1001) }],
      ['a side that does not exist', { side: 'HOLD' }],
    ])('when the body has %s, then 400 problem+json and nothing is stored', async (_name, patch) => {
      const res = await t.place('validator', patch);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.body.code).toBe('VALIDATION.FAILED');
      const [row] = await sql<{ n: number }>("SELECT count(*)::int AS n FROM orders WHERE user_id = 'validator'");
      const n = row?.n;
      expect(n).toBe(0);
    });

    it('when nobody is signed in, then placing is 401', async () => {
      const res = await request(app).post('/api/v1/orders').send({});
      expect(res.status).toBe(401);
    });
  });

  describe('taking', () => {
    it("when a buyer takes a SELL ad, then the remainder falls and the trade opens from the ad's hold with no buy order", async () => {
      const ad = await t.placeFundedSell('ad-seller', {
        asset: 'BTC',
        fiatCurrency: 'NGN',
        price: '50000000.00',
        amount: '1',
        minFill: '0.1',
        paymentMethods: ['BANK', 'OPAY'],
      });
      const res = await request(app)
        .post(`/api/v1/orders/${ad}/take`)
        .set(t.as('ad-buyer'))
        .send({ amount: '0.25', paymentMethod: 'opay' });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({
        tradeId: expect.any(String),
        fill: {
          matchId: expect.any(String),
          tradeId: res.body.tradeId,
          counterOrderId: ad,
          price: '50000000.00',
          amount: '0.25000000',
        },
      });
      expect((await request(app).get(`/api/v1/orders/${ad}`)).body.order).toMatchObject({
        status: 'PARTIALLY_FILLED',
        remaining: '0.75000000',
      });
      const [trade] = await tradesOf('ad-buyer');
      expect(trade).toMatchObject({
        id: res.body.tradeId,
        buy_order_id: null,
        sell_order_id: ad,
        seller_id: 'ad-seller',
        payment_method: 'OPAY',
        fiat_amount: '12500000.00',
      });
      expect(await ledgerBalance(harness.testDb, 'HELD', 'ad-seller', 'BTC', ad)).toBe('0.75000000');
      const [matchRow] = await sql<{ seller_funding: string }>(
        'SELECT seller_funding FROM matches WHERE trade_id = $1',
        [res.body.tradeId],
      );
      expect(matchRow!.seller_funding).toBe('HOLD');
    });

    it('when a seller takes a BUY ad, then the seller funds from AVAILABLE and sellOrderId is null', async () => {
      const ad = await t.place('ad-bidder', { fiatCurrency: 'KES', amount: '1' });
      await t.fund('ad-asker', 'BTC', '1.5');
      const res = await request(app)
        .post(`/api/v1/orders/${ad.body.order.id}/take`)
        .set(t.as('ad-asker'))
        .send({ amount: '1', paymentMethod: 'SEPA' });
      expect(res.status).toBe(201);
      const [trade] = await tradesOf('ad-bidder');
      expect(trade).toMatchObject({
        id: res.body.tradeId,
        buy_order_id: ad.body.order.id,
        sell_order_id: null,
        seller_id: 'ad-asker',
      });
      expect(await ledgerBalance(harness.testDb, 'AVAILABLE', 'ad-asker', 'BTC')).toBe('0.50000000');
      expect(await ledgerBalance(harness.testDb, 'ESCROW', 'ad-asker', 'BTC', res.body.tradeId)).toBe('1.00000000');
      expect((await request(app).get(`/api/v1/orders/${ad.body.order.id}`)).body.order.status).toBe('FILLED');
    });

    it('when a take breaks a rule, then it is refused and the ad is unchanged', async () => {
      const ad = await t.placeFundedSell('rules', { fiatCurrency: 'BRL', amount: '1', minFill: '0.5' });
      const take = (userId: string, body: object) =>
        request(app).post(`/api/v1/orders/${ad}/take`).set(t.as(userId)).send(body);
      expect((await take('rules', { amount: '0.5', paymentMethod: 'SEPA' })).body.code).toBe('ORDER.SELF_TRADE');
      expect((await take('other', { amount: '0.5', paymentMethod: 'CASH' })).body.code).toBe(
        'ORDER.PAYMENT_METHOD_NOT_ACCEPTED',
      );
      expect((await take('other', { amount: '0.4', paymentMethod: 'SEPA' })).body.code).toBe('ORDER.BELOW_MIN_FILL');
      expect((await take('other', { amount: '1.1', paymentMethod: 'SEPA' })).status).toBe(409);
      expect((await take('other', { amount: '0.123456789', paymentMethod: 'SEPA' })).status).toBe(400);
      expect((await take('other', { amount: '0.5', paymentMethod: 'SEPA', price: '1' })).status).toBe(400);
      expect((await request(app).get(`/api/v1/orders/${ad}`)).body.order.remaining).toBe('1.00000000');
      const gone = await t.placeFundedSell('rules', { fiatCurrency: 'BRL' });
      await request(app).delete(`/api/v1/orders/${gone}`).set(t.as('rules')).expect(200);
      expect(
        (
          await request(app)
            .post(`/api/v1/orders/${gone}/take`)
            .set(t.as('other'))
            .send({ amount: '1', paymentMethod: 'SEPA' })
        ).body.code,
      ).toBe('ORDER.INVALID_STATE');
    });

    it("when a take's amount has more decimals than the ad's asset carries, then 400 names amount and the ad is unchanged", async () => {
      const ad = await t.placeFundedSell('usdt-ad', {
        asset: 'USDT',
        fiatCurrency: 'BRL',
        price: '5.00',
        amount: '30',
      });
      const res = await request(app)
        .post(`/api/v1/orders/${ad}/take`)
        .set(t.as('usdt-taker'))
        .send({ amount: '1.0000001', paymentMethod: 'SEPA' });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: 'VALIDATION.FAILED', errors: [{ path: 'amount' }] });
      expect((await request(app).get(`/api/v1/orders/${ad}`)).body.order.remaining).toBe('30.000000');
    });

    it('when a seller takes a BUY ad beyond their balance, then 409 WALLET.INSUFFICIENT_FUNDS and neither the ad nor the ledger changes', async () => {
      const ad = await t.place('poor-bidder', { fiatCurrency: 'INR', amount: '1' });
      await t.fund('poor-seller', 'BTC', '0.3');
      const res = await request(app)
        .post(`/api/v1/orders/${ad.body.order.id}/take`)
        .set(t.as('poor-seller'))
        .send({ amount: '0.4', paymentMethod: 'SEPA' });
      expect(res.status).toBe(409);
      expect(res.body.code).toBe('WALLET.INSUFFICIENT_FUNDS');
      expect((await request(app).get(`/api/v1/orders/${ad.body.order.id}`)).body.order).toMatchObject({
        status: 'OPEN',
        remaining: '1.00000000',
      });
      expect(await sql('SELECT id FROM matches WHERE buy_order_id = $1', [ad.body.order.id])).toEqual([]);
      expect(await ledgerBalance(harness.testDb, 'AVAILABLE', 'poor-seller', 'BTC')).toBe('0.30000000');
    });
  });

  describe('cancelling', () => {
    it('when the owner cancels a partly filled SELL, then CANCELLED and the remainder of its hold is back in AVAILABLE at once', async () => {
      const ad = await t.placeFundedSell('canceller', { fiatCurrency: 'CAD', amount: '1' });
      await request(app)
        .post(`/api/v1/orders/${ad}/take`)
        .set(t.as('partial'))
        .send({ amount: '0.3', paymentMethod: 'SEPA' });
      const res = await request(app).delete(`/api/v1/orders/${ad}`).set(t.as('canceller'));
      expect(res.status).toBe(200);
      expect(res.body.order).toMatchObject({ status: 'CANCELLED', remaining: '0.70000000' });
      expect(await ledgerBalance(harness.testDb, 'HELD', 'canceller', 'BTC', ad)).toBe('0.00000000');
      expect(await ledgerBalance(harness.testDb, 'AVAILABLE', 'canceller', 'BTC')).toBe('0.70000000');
      expect(await sql('SELECT status, released::text FROM trade.order_holds WHERE order_id = $1', [ad])).toEqual([
        { status: 'RELEASED', released: '0.70000000' },
      ]);
      // Nothing travels through a queue for it: the book writes no events at all.
      expect(await outbox('order.cancelled')).toEqual([]);
      const again = await request(app).delete(`/api/v1/orders/${ad}`).set(t.as('canceller'));
      expect(again.status).toBe(409);
      expect(again.body.code).toBe('ORDER.INVALID_STATE');
    });

    it('when someone else cancels, then 404 and nothing changes', async () => {
      const ad = await t.place('owner', { fiatCurrency: 'CAD' });
      expect((await request(app).delete(`/api/v1/orders/${ad.body.order.id}`).set(t.as('intruder'))).status).toBe(404);
      expect((await request(app).get(`/api/v1/orders/${ad.body.order.id}`)).body.order.status).toBe('OPEN');
    });
  });

  describe('reading', () => {
    it('when open orders are listed, then best price first, filters apply, and the cursor pages through', async () => {
      for (const price of ['10.00', '12.00', '11.00'])
        await t.placeFundedSell(`lister-${price}`, { asset: 'ETH', fiatCurrency: 'CHF', price, amount: '1' });
      await t.placeFundedSell('lister-wire', {
        asset: 'ETH',
        fiatCurrency: 'CHF',
        price: '9.00',
        amount: '0.1',
        paymentMethods: ['WIRE'],
      });
      const first = await request(app)
        .get('/api/v1/orders')
        .query({ asset: 'ETH', fiatCurrency: 'CHF', side: 'SELL', paymentMethod: 'sepa', limit: 2 });
      expect(first.status).toBe(200);
      expect(first.body.data.map((o: { price: string }) => o.price)).toEqual(['10.00', '11.00']);
      const second = await request(app).get('/api/v1/orders').query({
        asset: 'ETH',
        fiatCurrency: 'CHF',
        side: 'SELL',
        paymentMethod: 'SEPA',
        limit: 2,
        cursor: first.body.nextCursor,
      });
      expect(second.body.data.map((o: { price: string }) => o.price)).toEqual(['12.00']);
      expect(second.body.nextCursor).toBeNull();
      const big = await request(app)
        .get('/api/v1/orders')
        .query({ asset: 'ETH', fiatCurrency: 'CHF', minAmount: '0.5' });
      expect(big.body.data).toHaveLength(3);
      expect(
        (await request(app).get('/api/v1/orders').query({ asset: 'ETH', fiatCurrency: 'CHF', cursor: 'nonsense' }))
          .status,
      ).toBe(400);
      expect(
        (await request(app).get('/api/v1/orders').query({ asset: 'ETH', fiatCurrency: 'CHF', minAmount: '1e2' }))
          .status,
      ).toBe(400);
    });

    it('when I list my orders, then I see them newest first, by status, paged', async () => {
      await t.place('reader', { fiatCurrency: 'JPY', price: '1.00' });
      await t.place('reader', { fiatCurrency: 'JPY', price: '2.00' });
      const sell = await t.placeFundedSell('reader', { side: 'SELL', fiatCurrency: 'JPY', price: '3.00' });
      const page = await request(app).get('/api/v1/orders/mine').query({ limit: 2 }).set(t.as('reader'));
      expect(page.body.data.map((o: { price: string }) => o.price)).toEqual(['3.00', '2.00']);
      const rest = await request(app)
        .get('/api/v1/orders/mine')
        .query({ limit: 2, cursor: page.body.nextCursor })
        .set(t.as('reader'));
      expect(rest.body.data.map((o: { price: string }) => o.price)).toEqual(['1.00']);
      await request(app).delete(`/api/v1/orders/${sell}`).set(t.as('reader')).expect(200);
      const cancelled = await request(app)
        .get('/api/v1/orders/mine')
        .query({ status: 'CANCELLED' })
        .set(t.as('reader'));
      expect(cancelled.body.data.map((o: { id: string }) => o.id)).toEqual([sell]);
      expect((await request(app).get('/api/v1/orders/mine')).status).toBe(401);
    });

    it('when an id is unknown or malformed, then 404', async () => {
      expect((await request(app).get('/api/v1/orders/not-a-uuid')).status).toBe(404);
      expect((await request(app).get('/api/v1/orders/00000000-0000-4000-8000-000000000000')).body.code).toBe(
        'ORDER.NOT_FOUND',
      );
    });

    it('when the book changes, then /orderbook shows aggregated levels with a rising sequence', async () => {
      const book = () => request(app).get('/api/v1/orderbook').query({ asset: 'BTC', fiatCurrency: 'ZAR', depth: 5 });
      expect((await book()).body).toEqual({
        asset: 'BTC',
        fiatCurrency: 'ZAR',
        bids: [],
        asks: [],
        sequence: 0,
        updatedAt: null,
      });
      await t.place('book-1', { fiatCurrency: 'ZAR', price: '100.00', amount: '1' });
      await t.place('book-2', { fiatCurrency: 'ZAR', price: '100.00', amount: '0.5' });
      await t.place('book-3', { fiatCurrency: 'ZAR', price: '99.00', amount: '2' });
      await t.placeFundedSell('book-4', { fiatCurrency: 'ZAR', price: '105.00', amount: '3' });
      const body = await eventually(async () => {
        const res = await book();
        return res.body.sequence === 4 ? res.body : undefined;
      });
      expect(body.bids).toEqual([
        { price: '100.00', amount: '1.50000000', orderCount: 2 },
        { price: '99.00', amount: '2.00000000', orderCount: 1 },
      ]);
      expect(body.asks).toEqual([{ price: '105.00', amount: '3.00000000', orderCount: 1 }]);
      const cached = JSON.parse((await harness.testRedis.redis.get(`${harness.testRedis.prefix}:book:BTC:ZAR`))!);
      expect(cached.sequence).toBe(4);
      expect(
        (await request(app).get('/api/v1/orderbook').query({ asset: 'BTC', fiatCurrency: 'ZAR', depth: 0 })).status,
      ).toBe(400);
    });

    it('when a client holds the version of the book, then 304 without a body until the book changes', async () => {
      const read = (etag?: string) => {
        const r = request(app).get('/api/v1/orderbook').query({ asset: 'ETH', fiatCurrency: 'ZAR', depth: 3 });
        return etag ? r.set('If-None-Match', etag) : r;
      };
      await t.place('etag-1', { asset: 'ETH', fiatCurrency: 'ZAR', price: '20.00' });
      const first = await eventually(async () => {
        const res = await read();
        return res.body.sequence === 1 ? res : undefined;
      });
      expect(first.headers.etag).toBe('W/"ETH-ZAR-1-3"');
      const unchanged = await read(first.headers.etag);
      expect(unchanged.status).toBe(304);
      expect(unchanged.text).toBe('');
      // Another depth is another body: its own version.
      expect((await read().query({ depth: 4 })).headers.etag).toBe('W/"ETH-ZAR-1-4"');
      await t.place('etag-2', { asset: 'ETH', fiatCurrency: 'ZAR', price: '21.00' });
      const changed = await eventually(async () => {
        const res = await read(first.headers.etag);
        return res.status === 200 ? res : undefined;
      });
      expect(changed.headers.etag).toBe('W/"ETH-ZAR-2-3"');
      expect(changed.body.bids).toHaveLength(2);
    });

    it('when an order is placed, then its answer carries no ETag (none is hashed from bodies)', async () => {
      const res = await t.place('etag-3', { asset: 'ETH', fiatCurrency: 'AED', price: '20.00' }).expect(201);
      expect(res.headers.etag).toBeUndefined();
    });

    it('when the book is warm, then reads cost no Postgres query at all', async () => {
      await t.place('warm-1', { fiatCurrency: 'TRY', price: '10.00' });
      const read = () => request(app).get('/api/v1/orderbook').query({ asset: 'BTC', fiatCurrency: 'TRY' });
      await eventually(async () => (await read()).body.sequence === 1);
      const pg = await import('pg');
      const original = pg.default.Client.prototype.query;
      let queries = 0;
      pg.default.Client.prototype.query = function (this: unknown, ...args: unknown[]) {
        queries += 1;
        return (original as (...a: unknown[]) => unknown).apply(this, args);
      } as typeof original;
      try {
        for (let i = 0; i < 50; i += 1)
          expect((await read()).body.bids).toEqual([{ price: '10.00', amount: '1.00000000', orderCount: 1 }]);
      } finally {
        pg.default.Client.prototype.query = original;
      }
      expect(queries).toBe(0);
    });

    it('when trades open, then /metrics counts them per asset', async () => {
      const opened = async () =>
        Number(
          (await request(app).get('/metrics')).text.match(
            /^trades_opened_total\{[^}]*asset="USDC"[^}]*\} (\d+)$/m,
          )?.[1] ?? 0,
        );
      const before = await opened();
      const ad = await t.placeFundedSell('metric-seller', {
        asset: 'USDC',
        fiatCurrency: 'AED',
        price: '3.67',
        amount: '10',
      });
      await request(app)
        .post(`/api/v1/orders/${ad}/take`)
        .set(t.as('metric-taker'))
        .send({ amount: '2', paymentMethod: 'SEPA' })
        .expect(201);
      await t.place('metric-buyer', { asset: 'USDC', fiatCurrency: 'AED', price: '3.67', amount: '3' }).expect(201);
      expect(await opened()).toBe(before + 2);
    });

    it('when /openapi.json is asked, then every order-book endpoint is documented', async () => {
      const res = await request(app).get('/openapi.json');
      expect(Object.keys(res.body.paths).sort()).toEqual([
        '/api/v1/admin/markets/{asset}/{fiatCurrency}',
        '/api/v1/markets',
        '/api/v1/orderbook',
        '/api/v1/orders',
        '/api/v1/orders/mine',
        '/api/v1/orders/{id}',
        '/api/v1/orders/{id}/pause',
        '/api/v1/orders/{id}/resume',
        '/api/v1/orders/{id}/take',
      ]);
    });
  });
});
