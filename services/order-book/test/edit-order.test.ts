import request from 'supertest';
import type { Express } from 'express';
import { createAppHarness, type Harness } from './harness';
import { bookInvariantViolations, ledgerBalance, type Actors } from './helpers';

/**
 * API.md "Trading essentials", ads that change: PATCH /orders/:id, pause and resume, and expiry (EXPIRED, a SELL's
 * hold released), each under the market lock like matching, each keeping the hold equal to the remainder.
 */
describe('editing, pausing and expiring orders', () => {
  let harness: Harness;
  let app: Express;
  let t: Actors;
  const sql = <R = Record<string, unknown>>(text: string, params?: unknown[]) => harness.testDb.query<R>(text, params);
  const patch = (userId: string, id: string, body: Record<string, unknown>) =>
    request(app).patch(`/api/v1/orders/${id}`).set(t.as(userId)).send(body);
  const action = (userId: string, id: string, what: 'pause' | 'resume') =>
    request(app).post(`/api/v1/orders/${id}/${what}`).set(t.as(userId)).send({});
  const held = (userId: string, orderId: string) => ledgerBalance(harness.testDb, 'HELD', userId, 'BTC', orderId);
  const available = (userId: string) => ledgerBalance(harness.testDb, 'AVAILABLE', userId, 'BTC');
  const seqOf = async (id: string) =>
    BigInt((await sql<{ seq: string }>('SELECT seq::text FROM orders WHERE id = $1', [id]))[0]!.seq);
  const rowOf = async (id: string) =>
    (
      await sql<Record<string, unknown>>(
        'SELECT status, live, paused, amount::text, remaining::text, price::text FROM orders WHERE id = $1',
        [id],
      )
    )[0];

  beforeAll(async () => {
    ({ harness, app, t } = await createAppHarness());
  });

  afterAll(async () => {
    expect(await bookInvariantViolations(harness.testDb)).toEqual([]);
    await harness.close();
  });

  describe('PATCH /orders/:id', () => {
    it('when the owner changes the price, then the order loses time priority and its terms change with it', async () => {
      const bid = (await t.place('ed-a', { fiatCurrency: 'EUR', price: '90.00' })).body.order.id as string;
      const before = await seqOf(bid);
      const res = await patch('ed-a', bid, {
        price: '91.00',
        terms: 'new terms',
        minFiat: '10.00',
        maxFiat: '50.00',
        paymentWindowMinutes: 60,
      });
      expect(res.status).toBe(200);
      expect(res.body.order).toMatchObject({
        price: '91.00',
        terms: 'new terms',
        minFiat: '10.00',
        maxFiat: '50.00',
        paymentWindowMinutes: 60,
        status: 'OPEN',
      });
      expect(await seqOf(bid)).toBeGreaterThan(before);
      // Terms alone keep the place in the queue.
      const kept = await seqOf(bid);
      expect((await patch('ed-a', bid, { terms: null, maxFiat: null })).body.order).toMatchObject({
        terms: null,
        maxFiat: null,
        minFiat: '10.00',
      });
      expect(await seqOf(bid)).toBe(kept);
    });

    it("when a partly filled SELL's amount goes down, then the hold gives back the difference, and never below what is filled", async () => {
      const ask = await t.placeFundedSell('ed-s', { fiatCurrency: 'GBP', amount: '1' });
      expect((await t.place('ed-b', { fiatCurrency: 'GBP', amount: '0.3' })).body.fills).toHaveLength(1);
      const res = await patch('ed-s', ask, { amount: '0.5' });
      expect(res.body.order).toMatchObject({
        amount: '0.50000000',
        remaining: '0.20000000',
        status: 'PARTIALLY_FILLED',
      });
      expect(await held('ed-s', ask)).toBe('0.20000000');
      expect(await available('ed-s')).toBe('0.50000000');
      const below = await patch('ed-s', ask, { amount: '0.3' });
      expect(below.status).toBe(409);
      expect(below.body.code).toBe('ORDER.AMOUNT_BELOW_FILLED');
      expect(await rowOf(ask)).toMatchObject({ amount: '0.50000000', remaining: '0.20000000' });
    });

    it("when a SELL's amount goes up beyond the balance, then 409 WALLET.INSUFFICIENT_FUNDS and nothing changes; within it, the hold grows", async () => {
      const ask = await t.placeFundedSell('ed-u', { fiatCurrency: 'INR', amount: '1' });
      await t.fund('ed-u', 'BTC', '0.5');
      const refused = await patch('ed-u', ask, { amount: '2' });
      expect(refused.status).toBe(409);
      expect(refused.body.code).toBe('WALLET.INSUFFICIENT_FUNDS');
      expect(await held('ed-u', ask)).toBe('1.00000000');
      expect((await patch('ed-u', ask, { amount: '1.5' })).body.order.remaining).toBe('1.50000000');
      expect(await held('ed-u', ask)).toBe('1.50000000');
      expect(await available('ed-u')).toBe('0.00000000');
      // A cancel gives back the whole of the grown hold.
      expect((await request(app).delete(`/api/v1/orders/${ask}`).set(t.as('ed-u'))).status).toBe(200);
      expect(await available('ed-u')).toBe('1.50000000');
    });

    it('when a new price crosses the book, then the order matches at once', async () => {
      await t.placeFundedSell('ed-m', { fiatCurrency: 'BRL', price: '100.00', amount: '0.4' });
      const bid = (await t.place('ed-n', { fiatCurrency: 'BRL', price: '95.00', amount: '1' })).body.order.id as string;
      const res = await patch('ed-n', bid, { price: '100.00' });
      expect(res.body.fills).toHaveLength(1);
      expect(res.body.order).toMatchObject({ remaining: '0.60000000', status: 'PARTIALLY_FILLED' });
    });

    it('when someone else edits, the order is closed, or the input is bad, then 404, 409 or 400 and nothing changes', async () => {
      const bid = (await t.place('ed-o', { fiatCurrency: 'KES', price: '50.00' })).body.order.id as string;
      expect((await patch('ed-x', bid, { price: '51.00' })).status).toBe(404);
      for (const body of [
        {},
        { price: '-1' },
        { amount: '0.123456789' },
        { minFill: '2' },
        { minFiat: '9.00', maxFiat: '1.00' },
        { status: 'FILLED' },
        { paymentMethodIds: ['5a3d1f0e-3b5c-4a53-9d41-0d6a0d1f1a11'] },
        { expiresAt: '2020-01-01T00:00:00Z' },
      ]) {
        const res = await patch('ed-o', bid, body);
        expect({ body, status: res.status, type: res.headers['content-type'] }).toEqual({
          body,
          status: 400,
          type: expect.stringMatching(/problem\+json/),
        });
      }
      expect(await rowOf(bid)).toMatchObject({ price: '50.00', amount: '1.00000000' });
      await request(app).delete(`/api/v1/orders/${bid}`).set(t.as('ed-o'));
      expect((await patch('ed-o', bid, { price: '51.00' })).body.code).toBe('ORDER.INVALID_STATE');
    });
  });

  describe('pause and resume', () => {
    it('when an ad is paused, then it leaves the book and matching, keeps its hold, and resumes with time priority from then', async () => {
      const ask = await t.placeFundedSell('pa-s', { fiatCurrency: 'MXN', price: '100.00', amount: '1' });
      const paused = await action('pa-s', ask, 'pause');
      expect(paused.body.order).toMatchObject({ paused: true, status: 'OPEN' });
      expect(await held('pa-s', ask)).toBe('1.00000000');
      expect((await request(app).get('/api/v1/orders?asset=BTC&fiatCurrency=MXN')).body.data).toEqual([]);
      const bid = await t.place('pa-b', { fiatCurrency: 'MXN', price: '100.00', amount: '0.5' });
      expect(bid.body.fills).toEqual([]);
      const take = await request(app)
        .post(`/api/v1/orders/${ask}/take`)
        .set(t.as('pa-c'))
        .send({ amount: '0.1', paymentMethod: 'SEPA' });
      expect(take.body.code).toBe('ORDER.INVALID_STATE');

      const before = await seqOf(ask);
      const resumed = await action('pa-s', ask, 'resume');
      expect(resumed.body.order.paused).toBe(false);
      // Back in the book, it crosses the bid that came meanwhile and matches at once.
      expect(resumed.body.fills).toHaveLength(1);
      expect(resumed.body.order.remaining).toBe('0.50000000');
      expect(await seqOf(ask)).toBeGreaterThan(before);
      expect(await held('pa-s', ask)).toBe('0.50000000');
    });
  });

  describe('expiry', () => {
    it("when an order passes its expiresAt, then the sweeper makes it EXPIRED, releases a SELL's hold and frees its slot", async () => {
      const inAnHour = new Date(Date.now() + 3_600_000).toISOString();
      const placed = await t.place('ex-s', { side: 'SELL', fiatCurrency: 'ZAR', expiresAt: inAnHour });
      expect(placed.status).toBe(409); // unfunded
      await t.fund('ex-s', 'BTC', '1');
      const ask = (await t.place('ex-s', { side: 'SELL', fiatCurrency: 'ZAR', expiresAt: inAnHour })).body.order;
      expect(ask.expiresAt).toBe(inAnHour);
      const { expiry } = harness;
      expect(await expiry.sweepNow()).toBe(0);
      await sql("UPDATE orders SET expires_at = now() - interval '1 second' WHERE id = $1", [ask.id]);
      expect(await expiry.sweepNow()).toBe(1);
      expect(await rowOf(ask.id)).toMatchObject({ status: 'EXPIRED', live: false });
      expect(await held('ex-s', ask.id)).toBe('0.00000000');
      expect(await available('ex-s')).toBe('1.00000000');
      expect(await sql("SELECT open_orders FROM user_order_counts WHERE user_id = 'ex-s'")).toEqual([
        { open_orders: 0 },
      ]);
      expect(await expiry.sweepNow()).toBe(0);
      expect((await request(app).delete(`/api/v1/orders/${ask.id}`).set(t.as('ex-s'))).body.code).toBe(
        'ORDER.INVALID_STATE',
      );
    });
  });

  it('when edits, pauses and matching race on one market, then every hold equals its remainder and nothing is overfilled', async () => {
    const asks = await Promise.all(
      ['ra-1', 'ra-2', 'ra-3'].map((u) => t.placeFundedSell(u, { fiatCurrency: 'CAD', price: '100.00', amount: '1' })),
    );
    await Promise.all(['ra-1', 'ra-2', 'ra-3'].map((u) => t.fund(u, 'BTC', '1')));
    const racing = [
      ...asks.map((id, i) => patch(`ra-${i + 1}`, id, { amount: '1.5' })),
      ...asks.map((id, i) => patch(`ra-${i + 1}`, id, { amount: '0.4' })),
      action('ra-1', asks[0]!, 'pause'),
      action('ra-1', asks[0]!, 'resume'),
      ...Array.from({ length: 6 }, (_, i) =>
        t.place(`rb-${i}`, { fiatCurrency: 'CAD', price: '100.00', amount: '0.3' }),
      ),
    ];
    const results = await Promise.all(racing);
    expect(results.every((r) => r.status < 500)).toBe(true);
    expect(await bookInvariantViolations(harness.testDb)).toEqual([]);
  });
});
