import pg from 'pg';
import { Api, login, newUser, until } from '../src/client';
import { expectLedgerBalanced } from '../src/invariants';
import { ADMIN, startStack, type Stack } from '../src/stack';

/**
 * API.md "Trading essentials" through the gateway (issue 15): the buyer sees where to pay, and nobody else does;
 * abuse limits with their codes (small limits here, so that each is reached in a few requests); the griefing case
 * of the issue refused.
 */
describe('end to end: trading essentials', () => {
  let stack: Stack;
  let api: Api;
  let admin: Api;
  const IBAN = 'GB33BUKB20201555555555';

  beforeAll(async () => {
    stack = await startStack({
      env: {
        ORDERS_OPEN_MAX: '4',
        TRADES_OPEN_AS_BUYER_MAX: '2',
        MERCHANT_ORDERS_OPEN_MAX: '6',
        MERCHANT_TRADES_OPEN_MAX: '6',
        BUYER_CANCELS_MAX: '3',
      },
    });
    api = new Api(stack.gatewayUrl);
    admin = await login(api, ADMIN.email, ADMIN.password);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function funded(asset: string, amount: string) {
    const user = await newUser(api, 's');
    expect((await user.api.post('/api/v1/wallet/deposits', { asset, amount })).status).toBe(201);
    return user;
  }

  async function sell(user: Api, body: Record<string, unknown>) {
    const methods = body.paymentMethodIds ? {} : { paymentMethods: ['SEPA'] };
    const res = await user.post('/api/v1/orders', {
      side: 'SELL',
      asset: 'BTC',
      fiatCurrency: 'USD',
      price: '50000.00',
      amount: '0.01000000',
      ...methods,
      ...body,
    });
    expect(res.status).toBe(201);
    return res.body.order as { id: string };
  }

  it('when a buyer is matched with a seller who saved bank details, then the buyer sees them in the trade, a stranger and lists never do', async () => {
    const seller = await funded('BTC', '0.01');
    const method = await seller.api.post('/api/v1/users/me/payment-methods', {
      type: 'SEPA',
      label: 'Main account',
      details: { iban: IBAN, holder: 'Ada Seller' },
    });
    expect(method.status).toBe(201);
    const ad = await sell(seller.api, { paymentMethodIds: [method.body.id] });
    const buyer = await newUser(api, 'b');
    const take = await buyer.api.post(`/api/v1/orders/${ad.id}/take`, { amount: '0.01000000', paymentMethod: 'SEPA' });
    expect(take.status).toBe(201);
    const tradeId = take.body.tradeId as string;

    const trade = await until(async () => {
      const res = await buyer.api.get(`/api/v1/trades/${tradeId}`);
      return res.status === 200 ? res.body.trade : undefined;
    });
    expect(trade.paymentDetails).toEqual({
      type: 'SEPA',
      label: 'Main account',
      details: { iban: IBAN, holder: 'Ada Seller' },
    });
    // The seller edits nothing of the open trade by deleting the method.
    expect((await seller.api.delete(`/api/v1/users/me/payment-methods/${method.body.id}`)).status).toBe(204);
    expect((await buyer.api.get(`/api/v1/trades/${tradeId}`)).body.trade.paymentDetails.details.iban).toBe(IBAN);

    const stranger = await newUser(api, 'x');
    expect((await stranger.api.get(`/api/v1/trades/${tradeId}`)).status).toBe(404);
    const list = await buyer.api.get('/api/v1/trades');
    expect(JSON.stringify(list.body)).not.toContain(IBAN);
    expect(JSON.stringify((await admin.get(`/api/v1/trades/${tradeId}`)).body.trade.paymentDetails)).toContain(IBAN);

    // Once the trade is over, the parties no longer see where to pay.
    expect((await buyer.api.post(`/api/v1/trades/${tradeId}/paid`)).status).toBe(200);
    expect((await seller.api.post(`/api/v1/trades/${tradeId}/release`)).status).toBe(200);
    expect((await buyer.api.get(`/api/v1/trades/${tradeId}`)).body.trade).not.toHaveProperty('paymentDetails');

    // The details were written, copied, read and audited: they are in no column of any schema and no log line in plaintext.
    expect(stack.logs.filter((line) => line.includes(IBAN))).toEqual([]);
    const db = new pg.Client({ connectionString: stack.testDb.url });
    await db.connect();
    try {
      const { rows: columns } = await db.query<{
        table_schema: string;
        table_name: string;
        column_name: string;
        data_type: string;
      }>(
        `SELECT c.table_schema, c.table_name, c.column_name, c.data_type FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
         WHERE c.table_schema IN ('users', 'order_book', 'trade', 'dispute') AND t.table_type = 'BASE TABLE'`,
      );
      const found: string[] = [];
      for (const c of columns) {
        const match =
          c.data_type === 'bytea'
            ? `position(convert_to($1, 'UTF8') IN "${c.column_name}") > 0`
            : `"${c.column_name}"::text LIKE '%' || $1 || '%'`;
        const { rows } = await db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM "${c.table_schema}"."${c.table_name}" WHERE ${match}`,
          [IBAN],
        );
        if (rows[0]!.n > 0) found.push(`${c.table_schema}.${c.table_name}.${c.column_name}`);
      }
      expect(found).toEqual([]);
      expect(columns.length).toBeGreaterThan(50);
    } finally {
      await db.end();
    }
  });

  it("when an empty wallet's BUY with a 1,440-minute window is crossed by a SELL with 15, then the trade gives the buyer 15 minutes", async () => {
    const griefer = await newUser(api, 'g');
    const bid = await griefer.api.post('/api/v1/orders', {
      side: 'BUY',
      asset: 'USDT',
      fiatCurrency: 'EUR',
      price: '1.50',
      amount: '100',
      paymentMethods: ['SEPA'],
      paymentWindowMinutes: 1440,
    });
    expect(bid.status).toBe(201);
    const seller = await funded('USDT', '100');
    const res = await seller.api.post('/api/v1/orders', {
      side: 'SELL',
      asset: 'USDT',
      fiatCurrency: 'EUR',
      price: '1.00',
      amount: '100',
      paymentMethods: ['SEPA'],
      paymentWindowMinutes: 15,
    });
    expect(res.body.fills).toHaveLength(1);
    const trade = (await seller.api.get(`/api/v1/trades/${res.body.fills[0].tradeId}`)).body.trade;
    expect(trade.paymentWindowMinutes).toBe(15);
    expect(new Date(trade.paymentDeadline).getTime() - new Date(trade.createdAt).getTime()).toBeLessThanOrEqual(
      15 * 60_000 + 1_000,
    );
  });

  it('when an account has the most open orders, then one more is 409 ORDER.LIMIT_REACHED, and a merchant gets its own limit', async () => {
    const user = await newUser(api, 'l');
    const place = (who: Api, price: string) =>
      who.post('/api/v1/orders', {
        side: 'BUY',
        asset: 'ETH',
        fiatCurrency: 'GBP',
        price,
        amount: '1',
        paymentMethods: ['SEPA'],
      });
    for (const price of ['1.00', '2.00', '3.00', '4.00']) expect((await place(user.api, price)).status).toBe(201);
    const refused = await place(user.api, '5.00');
    expect(refused.status).toBe(409);
    expect(refused.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(refused.body.code).toBe('ORDER.LIMIT_REACHED');

    expect((await admin.patch(`/api/v1/admin/users/${user.id}/roles`, { roles: ['user', 'merchant'] })).status).toBe(
      200,
    );
    const merchant = await login(api, user.email, 'correct-horse-battery');
    expect((await place(merchant, '5.00')).status).toBe(201);
    expect((await place(merchant, '6.00')).status).toBe(201);
    expect((await place(merchant, '7.00')).body.code).toBe('ORDER.LIMIT_REACHED');
  });

  it('when a buyer cancels 3 trades in a day, then buying is 403 TRADE.BUYER_SUSPENDED, and 2 open trades are the most', async () => {
    const buyer = await newUser(api, 'c');
    const takeFrom = async () => {
      const seller = await funded('BTC', '0.01');
      const ad = await sell(seller.api, { fiatCurrency: 'EUR' });
      return buyer.api.post(`/api/v1/orders/${ad.id}/take`, { amount: '0.01000000', paymentMethod: 'SEPA' });
    };
    const first = await takeFrom();
    const second = await takeFrom();
    expect([first.status, second.status]).toEqual([201, 201]);
    const third = await takeFrom();
    expect(third.status).toBe(409);
    expect(third.body.code).toBe('TRADE.LIMIT_REACHED');

    for (const trade of [first, second])
      expect((await buyer.api.post(`/api/v1/trades/${trade.body.tradeId}/cancel`)).status).toBe(200);
    const another = await takeFrom();
    expect(another.status).toBe(201);
    expect((await buyer.api.post(`/api/v1/trades/${another.body.tradeId}/cancel`)).status).toBe(200);
    const suspended = await takeFrom();
    expect(suspended.status).toBe(403);
    expect(suspended.body.code).toBe('TRADE.BUYER_SUSPENDED');
    const bid = await buyer.api.post('/api/v1/orders', {
      side: 'BUY',
      asset: 'BTC',
      fiatCurrency: 'EUR',
      price: '10.00',
      amount: '0.01',
      paymentMethods: ['SEPA'],
    });
    expect(bid.body.code).toBe('TRADE.BUYER_SUSPENDED');
    await expectLedgerBalanced(admin);
  });

  it("when an admin sets a market's reference price and minimum, then GET /markets shows them and orders outside are 422", async () => {
    const set = await admin.request('PUT', '/api/v1/admin/markets/ETH/CHF', {
      referencePrice: '3000.00',
      minFiat: '100.00',
    });
    expect(set.status).toBe(200);
    expect(set.body).toEqual({
      asset: 'ETH',
      fiatCurrency: 'CHF',
      referencePrice: '3000.00',
      referenceSource: 'admin',
      minFiat: '100.00',
    });
    expect((await api.get('/api/v1/markets')).body.data).toContainEqual(set.body);
    const user = await newUser(api, 'm');
    const place = (price: string, amount: string) =>
      user.api.post('/api/v1/orders', {
        side: 'BUY',
        asset: 'ETH',
        fiatCurrency: 'CHF',
        price,
        amount,
        paymentMethods: ['SEPA'],
      });
    expect((await place('3700.00', '1')).body.code).toBe('ORDER.PRICE_OUT_OF_BAND');
    expect((await place('3000.00', '0.01')).body.code).toBe('ORDER.BELOW_MINIMUM');
    const ok = await place('3000.00', '1');
    expect(ok.status).toBe(201);
    // The owner edits and pauses the ad through the gateway.
    const edited = await user.api.patch(`/api/v1/orders/${ok.body.order.id}`, { price: '2900.00', maxFiat: '1000.00' });
    expect(edited.body.order).toMatchObject({ price: '2900.00', maxFiat: '1000.00' });
    expect((await user.api.post(`/api/v1/orders/${ok.body.order.id}/pause`)).body.order.paused).toBe(true);
    expect((await user.api.post(`/api/v1/orders/${ok.body.order.id}/resume`)).body.order.paused).toBe(false);
    expect((await user.api.request('PUT', '/api/v1/admin/markets/ETH/CHF', { minFiat: '1.00' })).status).toBe(403);
  });

  it('when a SELL ad passes its expiresAt, then the running order book expires it and its hold returns to the seller', async () => {
    const seller = await funded('BTC', '0.01');
    const ad = await sell(seller.api, {
      fiatCurrency: 'JPY',
      price: '5000000.00',
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    expect(
      (await seller.api.get('/api/v1/wallet/balances')).body.data.find((b: { asset: string }) => b.asset === 'BTC'),
    ).toMatchObject({ held: '0.01000000' });
    // Time passes (an hour, here in the database): the sweeper finds the order due.
    const db = new pg.Client({ connectionString: stack.testDb.url });
    await db.connect();
    await db
      .query("UPDATE order_book.orders SET expires_at = now() - interval '1 second' WHERE id = $1", [ad.id])
      .finally(() => db.end());
    const expired = await until(async () => {
      const order = (await seller.api.get(`/api/v1/orders/${ad.id}`)).body.order;
      return order?.status === 'EXPIRED' ? order : undefined;
    });
    expect(expired.status).toBe('EXPIRED');
    expect(
      (await seller.api.get('/api/v1/wallet/balances')).body.data.find((b: { asset: string }) => b.asset === 'BTC'),
    ).toMatchObject({ available: '0.01000000', held: '0.00000000' });
    await expectLedgerBalanced(admin);
  });

  it.each([
    ['minFiat above maxFiat', { minFiat: '500.00', maxFiat: '100.00' }],
    ['minFiat with 3 decimals', { minFiat: '1.001' }],
    ['a negative maxFiat', { maxFiat: '-5.00' }],
    ['expiresAt in the past', { expiresAt: '2020-01-01T00:00:00Z' }],
    ['expiresAt a year ahead', { expiresAt: new Date(Date.now() + 365 * 86_400_000).toISOString() }],
    ['expiresAt that is not a time', { expiresAt: 'tomorrow' }],
    ['paymentMethodIds on a BUY', { side: 'BUY', paymentMethodIds: ['6f1c1f0e-3b5c-4a53-9d41-0d6a0d1f1a11'] }],
  ])('when an order has %s, then 400 problem+json', async (_name, body) => {
    const user = await newUser(api, 'v');
    const res = await user.api.post('/api/v1/orders', {
      side: 'SELL',
      asset: 'BTC',
      fiatCurrency: 'USD',
      price: '100.00',
      amount: '1',
      paymentMethods: ['SEPA'],
      ...body,
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect((await user.api.get('/api/v1/orders/mine')).body.data).toEqual([]);
  });
});
