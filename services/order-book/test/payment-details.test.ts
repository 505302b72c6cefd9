import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { Express } from 'express';
import { createAppHarness, type Harness } from './harness';
import type { Actors } from './helpers';

/**
 * A SELL's named saved payment methods (API.md paymentMethodIds) and the payment details each of its trades gets:
 * open_trades copies the seller's sealed method when the trade opens, in the matching transaction. (Who sees the
 * details on GET /trades/:id: trade-execution's payment-details tests.)
 */
describe('SELL orders naming saved payment methods', () => {
  let harness: Harness;
  let app: Express;
  let t: Actors;
  const sql = <R = Record<string, unknown>>(text: string, params?: unknown[]) => harness.testDb.query<R>(text, params);
  /** A saved method row (its sealed bytes stand in for the user service's: order-book never opens them). */
  const saveMethod = async (ownerId: string, type: string) => {
    const id = randomUUID();
    await sql(
      "INSERT INTO users.payment_methods (id, user_id, type, label, key_id, iv, tag, ciphertext) VALUES ($1, $2, $3, 'label', 'k1', decode(repeat('00', 12), 'hex'), decode(repeat('00', 16), 'hex'), decode('01', 'hex'))",
      [id, ownerId, type],
    );
    return id;
  };
  const snapshotOf = async (tradeId: string) =>
    (
      await sql<{ method_id: string }>('SELECT method_id::text FROM trade.trade_payment_details WHERE trade_id = $1', [
        tradeId,
      ])
    )[0]?.method_id;

  beforeAll(async () => {
    ({ harness, app, t } = await createAppHarness());
  });

  afterAll(() => harness.close());

  it('when a SELL names saved methods without paymentMethods, then their types are its payment methods and its trades snapshot the named method', async () => {
    const seller = randomUUID();
    const sepa = await saveMethod(seller, 'SEPA');
    const wire = await saveMethod(seller, 'bank_transfer');
    await t.fund(seller, 'BTC', '1');
    const placed = await request(app)
      .post('/api/v1/orders')
      .set(t.as(seller))
      .send({
        side: 'SELL',
        asset: 'BTC',
        fiatCurrency: 'USD',
        price: '100.00',
        amount: '1',
        paymentMethodIds: [sepa, wire],
      });
    expect(placed.status).toBe(201);
    expect(placed.body.order.paymentMethods).toEqual(['SEPA', 'BANK_TRANSFER']);
    expect(placed.body.order.paymentMethodIds).toEqual([sepa, wire]);
    // The public view does not list the seller's saved method ids.
    expect((await request(app).get(`/api/v1/orders/${placed.body.order.id}`)).body.order).not.toHaveProperty(
      'paymentMethodIds',
    );

    const bought = await t.place('pd-buyer', { amount: '0.4', paymentMethods: ['BANK_TRANSFER'] });
    expect(await snapshotOf(bought.body.fills[0].tradeId)).toBe(wire);
    const taken = await request(app)
      .post(`/api/v1/orders/${placed.body.order.id}/take`)
      .set(t.as('pd-taker'))
      .send({ amount: '0.1', paymentMethod: 'SEPA' });
    expect(taken.status).toBe(201);
    expect(await snapshotOf(taken.body.tradeId)).toBe(sepa);
  });

  it("when a SELL names no saved methods, then a trade snapshots the seller's method of its type, or none", async () => {
    const seller = randomUUID();
    const sepa = await saveMethod(seller, 'SEPA');
    const sell = await t.placeFundedSell(seller, { fiatCurrency: 'EUR', paymentMethods: ['SEPA', 'CASH'] });
    const bySepa = await request(app)
      .post(`/api/v1/orders/${sell}/take`)
      .set(t.as('pd-b1'))
      .send({ amount: '0.1', paymentMethod: 'SEPA' });
    expect(await snapshotOf(bySepa.body.tradeId)).toBe(sepa);
    const byCash = await request(app)
      .post(`/api/v1/orders/${sell}/take`)
      .set(t.as('pd-b2'))
      .send({ amount: '0.1', paymentMethod: 'CASH' });
    expect(byCash.status).toBe(201);
    expect(await snapshotOf(byCash.body.tradeId)).toBeUndefined();
  });

  it("when ads are read, then a SELL shows whether its trades will carry the seller's payment details", async () => {
    const seller = randomUUID();
    const sepa = await saveMethod(seller, 'SEPA');
    const bySepa = await t.placeFundedSell(seller, { fiatCurrency: 'AUD', paymentMethods: ['SEPA'] });
    const byCash = await t.placeFundedSell(seller, { fiatCurrency: 'AUD', paymentMethods: ['CASH'] });
    const onFile = async (id: string) =>
      (await request(app).get(`/api/v1/orders/${id}`)).body.order.paymentDetailsOnFile;
    expect([await onFile(bySepa), await onFile(byCash)]).toEqual([true, false]);
    const listed = (await request(app).get('/api/v1/orders?asset=BTC&fiatCurrency=AUD')).body.data as Array<{
      id: string;
      paymentDetailsOnFile: boolean;
    }>;
    expect(Object.fromEntries(listed.map((o) => [o.id, o.paymentDetailsOnFile]))).toEqual({
      [bySepa]: true,
      [byCash]: false,
    });
    await sql('DELETE FROM users.payment_methods WHERE id = $1', [sepa]);
    expect(await onFile(bySepa)).toBe(false);
    const bid = (await t.place('pd-bid', { fiatCurrency: 'AUD', price: '10.00' })).body.order.id as string;
    expect((await request(app).get(`/api/v1/orders/${bid}`)).body.order).not.toHaveProperty('paymentDetailsOnFile');
  });

  it.each([
    [
      "ids of someone else's methods",
      async () => ({ side: 'SELL', paymentMethodIds: [await saveMethod(randomUUID(), 'SEPA')] }),
    ],
    ['ids that do not exist', async () => ({ side: 'SELL', paymentMethodIds: [randomUUID()] })],
    ['ids on a BUY', async () => ({ side: 'BUY', paymentMethodIds: [randomUUID()], paymentMethods: ['SEPA'] })],
    ['ids that are not uuids', async () => ({ side: 'SELL', paymentMethodIds: ['not-a-uuid'] })],
    [
      'the same id twice',
      async () => {
        const id = randomUUID();
        return { side: 'SELL', paymentMethodIds: [id, id], paymentMethods: ['SEPA'] };
      },
    ],
    ['neither paymentMethods nor paymentMethodIds', async () => ({ side: 'SELL' })],
  ])('when a SELL names %s, then 400 problem+json and nothing is stored', async (_name, body) => {
    const seller = randomUUID();
    await t.fund(seller, 'BTC', '1');
    const res = await request(app)
      .post('/api/v1/orders')
      .set(t.as(seller))
      .send({ asset: 'BTC', fiatCurrency: 'USD', price: '100.00', amount: '1', ...(await body()) });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(await sql('SELECT id FROM orders WHERE user_id = $1', [seller])).toEqual([]);
  });
});

describe('maker stats in public reads of ads', () => {
  let harness: Harness;
  let app: Express;
  let t: Actors;

  beforeAll(async () => {
    ({ harness, app, t } = await createAppHarness());
  });

  afterAll(() => harness.close());

  it("when ads are read, then each carries its maker's public stats from the user service", async () => {
    const maker = randomUUID();
    await harness.testDb.query(
      "INSERT INTO users.users (id, email, username, username_key, password_hash) VALUES ($1, $2, 'ada_maker', 'ada_maker', 'x')",
      [maker, `${maker}@test`],
    );
    await harness.testDb.query(
      'INSERT INTO users.user_stats (user_id, trades_completed, trades_cancelled, release_seconds_sum, releases_counted) VALUES ($1, 19, 1, 900, 3)',
      [maker],
    );
    const ad = await t.placeFundedSell(maker, { fiatCurrency: 'GHS' });
    await t.place('no-account-here', { fiatCurrency: 'GHS', price: '50.00' });
    const expected = {
      id: maker,
      username: 'ada_maker',
      tradesCompleted: 19,
      completionRate: '0.9500',
      avgReleaseSeconds: 300,
    };
    const list = await request(app).get('/api/v1/orders?asset=BTC&fiatCurrency=GHS');
    expect(list.body.data.find((o: { id: string }) => o.id === ad).maker).toEqual(expected);
    expect(list.body.data.find((o: { userId: string }) => o.userId === 'no-account-here').maker).toEqual({
      id: 'no-account-here',
      username: '',
      tradesCompleted: 0,
      completionRate: null,
      avgReleaseSeconds: null,
    });
    expect((await request(app).get(`/api/v1/orders/${ad}`)).body.order.maker).toEqual(expected);
  });
});
