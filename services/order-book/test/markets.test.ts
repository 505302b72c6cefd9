import request from 'supertest';
import type { Express } from 'express';
import { IDENTITY_HEADER, signIdentity, type Role } from '@orrange/http';
import { createAppHarness, type Harness } from './harness';
import type { Actors } from './helpers';

/**
 * API.md "Trading essentials", markets: GET /markets, an admin's PUT /admin/markets/:asset/:fiatCurrency, the price
 * band of ±20 % around the reference price (ORDER.PRICE_OUT_OF_BAND) and the minimum per order (ORDER.BELOW_MINIMUM).
 */
describe('market rules', () => {
  let harness: Harness;
  let app: Express;
  let t: Actors;
  const sign = (userId: string, roles: Role[], via: 'jwt' | 'api-key' = 'jwt') => ({
    [IDENTITY_HEADER]: signIdentity(
      { userId, roles, scopes: via === 'api-key' ? ['read', 'trade'] : null, via },
      harness.runtime.config.INTERNAL_TOKEN_SECRET,
    ),
  });
  const put = (
    asset: string,
    fiat: string,
    body: Record<string, unknown>,
    headers = sign('admin-1', ['user', 'admin']),
  ) => request(app).put(`/api/v1/admin/markets/${asset}/${fiat}`).set(headers).send(body);
  const market = async (asset: string, fiat: string) =>
    (await request(app).get('/api/v1/markets')).body.data.find(
      (m: { asset: string; fiatCurrency: string }) => m.asset === asset && m.fiatCurrency === fiat,
    );

  beforeAll(async () => {
    ({ harness, app, t } = await createAppHarness());
  });

  afterAll(() => harness.close());

  it('when an admin sets a reference price, then orders more than 20 % from it are 422 ORDER.PRICE_OUT_OF_BAND and store nothing', async () => {
    const res = await put('BTC', 'EUR', { referencePrice: '100.00' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      asset: 'BTC',
      fiatCurrency: 'EUR',
      referencePrice: '100.00',
      referenceSource: 'admin',
      minFiat: null,
    });
    expect(await market('BTC', 'EUR')).toEqual(res.body);
    for (const price of ['120.01', '79.99', '999999.99']) {
      const refused = await t.place('band-a', { fiatCurrency: 'EUR', price });
      expect({ price, status: refused.status, code: refused.body.code }).toEqual({
        price,
        status: 422,
        code: 'ORDER.PRICE_OUT_OF_BAND',
      });
    }
    for (const price of ['120.00', '80.00'])
      expect((await t.place('band-a', { fiatCurrency: 'EUR', price })).status).toBe(201);
    expect(
      await harness.runtime.db.query("SELECT price::text FROM orders WHERE user_id = 'band-a' ORDER BY orders.price"),
    ).toEqual([{ price: '80.00' }, { price: '120.00' }]);
  });

  it('when an edit moves the price out of the band, then 422 and the order keeps its price', async () => {
    const id = (await t.place('band-e', { fiatCurrency: 'EUR', price: '100.00' })).body.order.id as string;
    const res = await request(app).patch(`/api/v1/orders/${id}`).set(t.as('band-e')).send({ price: '150.00' });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('ORDER.PRICE_OUT_OF_BAND');
    expect((await request(app).get(`/api/v1/orders/${id}`)).body.order.price).toBe('100.00');
  });

  it('when a market has a minimum, then an order worth less is 422 ORDER.BELOW_MINIMUM', async () => {
    expect((await put('ETH', 'USD', { minFiat: '50.00' })).body).toMatchObject({
      minFiat: '50.00',
      referencePrice: null,
      referenceSource: null,
    });
    const small = await t.place('min-a', { asset: 'ETH', price: '100.00', amount: '0.4' });
    expect(small.status).toBe(422);
    expect(small.body.code).toBe('ORDER.BELOW_MINIMUM');
    expect((await t.place('min-a', { asset: 'ETH', price: '100.00', amount: '0.5' })).status).toBe(201);
  });

  it('without an admin price, then the reference is the median of the last 24 h of trades', async () => {
    for (const [i, price] of ['100.00', '110.00', '200.00'].entries()) {
      await t.placeFundedSell(`med-s${i}`, { fiatCurrency: 'NGN', price, amount: '0.1' });
      expect((await t.place(`med-b${i}`, { fiatCurrency: 'NGN', price, amount: '0.1' })).body.fills).toHaveLength(1);
    }
    await harness.deps.markets.reload({ median: true });
    expect(await market('BTC', 'NGN')).toMatchObject({ referencePrice: '110.00', referenceSource: 'trades' });
    expect((await t.place('med-x', { fiatCurrency: 'NGN', price: '140.00' })).body.code).toBe(
      'ORDER.PRICE_OUT_OF_BAND',
    );
    // An admin's price wins; cleared, the trades' median is back.
    await put('BTC', 'NGN', { referencePrice: '140.00' });
    expect((await t.place('med-x', { fiatCurrency: 'NGN', price: '140.00' })).status).toBe(201);
    expect((await put('BTC', 'NGN', { referencePrice: null })).body).toMatchObject({
      referencePrice: '110.00',
      referenceSource: 'trades',
    });
  });

  it('when someone other than an admin in a session, or bad input, then 403, 404 or 400 and nothing changes', async () => {
    expect((await put('BTC', 'GBP', { referencePrice: '1.00' }, sign('user-1', ['user']))).status).toBe(403);
    expect(
      (await put('BTC', 'GBP', { referencePrice: '1.00' }, sign('admin-2', ['user', 'admin'], 'api-key'))).status,
    ).toBe(403);
    expect((await request(app).put('/api/v1/admin/markets/BTC/GBP').send({ referencePrice: '1.00' })).status).toBe(401);
    expect((await put('DOGE', 'GBP', { referencePrice: '1.00' })).status).toBe(404);
    for (const body of [
      {},
      { referencePrice: '-1' },
      { referencePrice: '1.001' },
      { minFiat: 'abc' },
      { referencePrice: '1', sequence: 5 },
    ]) {
      const res = await put('BTC', 'GBP', body);
      expect({ body, status: res.status, type: res.headers['content-type'] }).toEqual({
        body,
        status: 400,
        type: expect.stringMatching(/problem\+json/),
      });
    }
    expect(await market('BTC', 'GBP')).toBeUndefined();
  });
});
