import { Api, login, newUser, until } from '../src/client';
import { balances, expectLedgerBalanced, liveSellRemainder } from '../src/invariants';
import { ADMIN, startStack, type Stack } from '../src/stack';

/**
 * The product driven the way a client drives it: every step through the gateway, checking balances and the
 * ledger invariant after each one.
 */
describe('end to end: trading through the gateway', () => {
  let stack: Stack;
  let api: Api;
  let admin: Api;

  beforeAll(async () => {
    stack = await startStack({ env: { PAYMENT_MINUTE_MS: '200' } });
    api = new Api(stack.gatewayUrl);
    admin = await login(api, ADMIN.email, ADMIN.password);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function deposit(user: Api, asset: string, amount: string) {
    const res = await user.post('/api/v1/wallet/deposits', { asset, amount });
    expect(res.status).toBe(201);
  }

  async function openSell(user: Api, body: Record<string, unknown>) {
    const res = await user.post('/api/v1/orders', {
      side: 'SELL',
      asset: 'BTC',
      fiatCurrency: 'USD',
      paymentMethods: ['SEPA'],
      ...body,
    });
    expect(res.status).toBe(201);
    const id = res.body.order.id as string;
    await until(async () => (await user.get(`/api/v1/orders/${id}`)).body.order?.status === 'OPEN');
    return id;
  }

  async function tradeOf(user: Api, tradeId: string) {
    return until(async () => {
      const res = await user.get(`/api/v1/trades/${tradeId}`);
      return res.status === 200 ? res.body.trade : undefined;
    });
  }

  it('when the stack is up, then the gateway reports every service ok and serves metrics and docs', async () => {
    const health = await api.get('/health');
    expect(health.status).toBe(200);
    expect(Object.keys(health.body.services).sort()).toEqual(['dispute', 'order-book', 'trade-execution', 'user']);
    for (const service of Object.values(health.body.services) as Array<{ status: string }>)
      expect(service.status).toBe('ok');
    expect((await api.get('/metrics')).status).toBe(200);
    const doc = await api.get('/docs/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.body.paths['/api/v1/orders']).toBeDefined();
  });

  it('when a SELL ad is crossed by a BUY, paid and released, then the crypto moves exactly once', async () => {
    const seller = await newUser(api, 's');
    const buyer = await newUser(api, 'b');
    await deposit(seller.api, 'BTC', '1.00000000');
    expect((await balances(seller.api)).BTC.available).toBe(100_000_000n);

    const sellId = await openSell(seller.api, { price: '60000.00', amount: '0.50000000' });
    expect(await balances(seller.api)).toMatchObject({
      BTC: { available: 50_000_000n, held: 50_000_000n, inEscrow: 0n },
    });
    await expectLedgerBalanced(admin);

    const buy = await buyer.api.post('/api/v1/orders', {
      side: 'BUY',
      asset: 'BTC',
      fiatCurrency: 'USD',
      price: '61000.00',
      amount: '0.20000000',
      paymentMethods: ['SEPA', 'Wise'],
    });
    expect(buy.status).toBe(201);
    expect(buy.body.fills).toHaveLength(1);
    expect(buy.body.fills[0]).toMatchObject({ counterOrderId: sellId, price: '60000.00', amount: '0.20000000' });
    const tradeId = buy.body.fills[0].tradeId as string;

    const trade = await tradeOf(buyer.api, tradeId);
    expect(trade).toMatchObject({
      status: 'AWAITING_PAYMENT',
      buyerId: buyer.id,
      sellerId: seller.id,
      amount: '0.20000000',
      price: '60000.00',
      fiatAmount: '12000.00',
      escrow: { status: 'LOCKED' },
    });
    expect(await balances(seller.api)).toMatchObject({
      BTC: { available: 50_000_000n, held: 30_000_000n, inEscrow: 20_000_000n },
    });
    expect(await liveSellRemainder(seller.api, 'BTC')).toBe(30_000_000n);

    // Only the buyer may mark paid; only the seller may release.
    expect((await seller.api.post(`/api/v1/trades/${tradeId}/paid`)).status).toBeGreaterThanOrEqual(400);
    expect((await buyer.api.post(`/api/v1/trades/${tradeId}/paid`)).status).toBe(200);
    expect((await buyer.api.post(`/api/v1/trades/${tradeId}/release`)).status).toBeGreaterThanOrEqual(400);
    expect((await seller.api.post(`/api/v1/trades/${tradeId}/release`)).status).toBe(200);
    expect((await seller.api.post(`/api/v1/trades/${tradeId}/release`)).status).toBe(409);

    expect((await buyer.api.get(`/api/v1/trades/${tradeId}`)).body.trade).toMatchObject({
      status: 'COMPLETED',
      escrow: { status: 'RELEASED' },
    });
    expect((await balances(buyer.api)).BTC.available).toBe(20_000_000n);
    expect(await balances(seller.api)).toMatchObject({
      BTC: { available: 50_000_000n, held: 30_000_000n, inEscrow: 0n },
    });
    await expectLedgerBalanced(admin);

    // Reputation follows the completed trade.
    await until(async () => (await api.get(`/api/v1/users/${seller.id}`)).body.stats?.tradesCompleted === 1);
  });

  it('when a taker takes an ad and then cancels, then the escrow returns to the seller and the ad can be cancelled', async () => {
    const seller = await newUser(api, 's');
    const buyer = await newUser(api, 'b');
    await deposit(seller.api, 'USDT', '1000.000000');
    const res = await seller.api.post('/api/v1/orders', {
      side: 'SELL',
      asset: 'USDT',
      fiatCurrency: 'EUR',
      price: '0.95',
      amount: '500.000000',
      minFill: '10.000000',
      paymentMethods: ['SEPA'],
    });
    expect(res.status).toBe(201);
    const adId = res.body.order.id as string;
    await until(async () => (await seller.api.get(`/api/v1/orders/${adId}`)).body.order?.status === 'OPEN');

    const belowMinFill = await buyer.api.post(`/api/v1/orders/${adId}/take`, {
      amount: '5.000000',
      paymentMethod: 'SEPA',
    });
    expect(belowMinFill.status).toBeGreaterThanOrEqual(400);
    expect(belowMinFill.status).toBeLessThan(500);
    const take = await buyer.api.post(`/api/v1/orders/${adId}/take`, { amount: '100.000000', paymentMethod: 'SEPA' });
    expect(take.status).toBe(201);
    const tradeId = take.body.tradeId as string;
    await tradeOf(buyer.api, tradeId);
    expect((await balances(seller.api)).USDT).toMatchObject({
      available: 500_000_000n,
      held: 400_000_000n,
      inEscrow: 100_000_000n,
    });

    expect((await buyer.api.post(`/api/v1/trades/${tradeId}/cancel`)).status).toBe(200);
    expect((await buyer.api.get(`/api/v1/trades/${tradeId}`)).body.trade).toMatchObject({
      status: 'CANCELLED',
      escrow: { status: 'REFUNDED' },
    });
    expect((await balances(seller.api)).USDT).toMatchObject({
      available: 600_000_000n,
      held: 400_000_000n,
      inEscrow: 0n,
    });

    const cancel = await seller.api.delete(`/api/v1/orders/${adId}`);
    expect(cancel.status).toBe(200);
    expect(cancel.body.order.status).toBe('CANCELLED');
    // The ad's remainder is released in the transaction that cancels it: nothing to wait for.
    expect((await balances(seller.api)).USDT).toMatchObject({ available: 1_000_000_000n, held: 0n, inEscrow: 0n });
    await expectLedgerBalanced(admin);
  });

  it('when the buyer never pays, then the payment deadline cancels the trade and refunds the seller', async () => {
    const seller = await newUser(api, 's');
    const buyer = await newUser(api, 'b');
    await deposit(seller.api, 'ETH', '2.00000000');
    const adId = await openSell(seller.api, {
      asset: 'ETH',
      price: '3000.00',
      amount: '1.00000000',
      paymentWindowMinutes: 15,
    });
    const take = await buyer.api.post(`/api/v1/orders/${adId}/take`, { amount: '0.50000000', paymentMethod: 'SEPA' });
    expect(take.status).toBe(201);
    await tradeOf(buyer.api, take.body.tradeId);
    // 15 "minutes" at PAYMENT_MINUTE_MS=200 is 3 s.
    const cancelled = await until(async () => {
      const trade = (await buyer.api.get(`/api/v1/trades/${take.body.tradeId}`)).body.trade;
      return trade?.status === 'CANCELLED' ? trade : undefined;
    }, 20_000);
    expect(cancelled.escrow.status).toBe('REFUNDED');
    expect((await balances(seller.api)).ETH).toMatchObject({
      available: 150_000_000n,
      held: 50_000_000n,
      inEscrow: 0n,
    });
    await expectLedgerBalanced(admin);
  });

  it('when a paid trade is disputed and an arbitrator splits it, then each side gets its share once', async () => {
    const seller = await newUser(api, 's');
    const buyer = await newUser(api, 'b');
    const arbitrator = await newUser(api, 'a');
    expect(
      (await admin.patch(`/api/v1/admin/users/${arbitrator.id}/roles`, { roles: ['user', 'arbitrator'] })).status,
    ).toBe(200);
    const arbitratorApi = await login(api, arbitrator.email, 'correct-horse-battery');

    await deposit(seller.api, 'BTC', '0.10000000');
    const adId = await openSell(seller.api, { price: '50000.00', amount: '0.10000000' });
    const take = await buyer.api.post(`/api/v1/orders/${adId}/take`, { amount: '0.10000000', paymentMethod: 'SEPA' });
    expect(take.status).toBe(201);
    const tradeId = take.body.tradeId as string;
    await tradeOf(buyer.api, tradeId);
    expect((await buyer.api.post(`/api/v1/trades/${tradeId}/paid`)).status).toBe(200);

    const dispute = await buyer.api.post(`/api/v1/trades/${tradeId}/dispute`, {
      reason: 'Paid by SEPA, seller does not release.',
    });
    expect(dispute.status).toBe(201);
    const disputeId = dispute.body.disputeId as string;
    expect((await seller.api.post(`/api/v1/trades/${tradeId}/release`)).status).toBe(409);

    await until(async () => (await buyer.api.get(`/api/v1/disputes/${disputeId}`)).status === 200);
    expect(
      (
        await buyer.api.post(`/api/v1/disputes/${disputeId}/evidence`, {
          body: 'Bank transfer receipt',
          attachments: [{ name: 'receipt.pdf', sha256: 'a'.repeat(64) }],
        })
      ).status,
    ).toBe(201);
    expect((await arbitratorApi.post(`/api/v1/disputes/${disputeId}/assign`, {})).status).toBe(200);
    const resolve = await arbitratorApi.post(`/api/v1/disputes/${disputeId}/resolve`, {
      outcome: 'SPLIT',
      buyerAmount: '0.06000000',
      note: 'Partial payment proven.',
    });
    expect(resolve.status).toBe(200);
    expect(
      (await arbitratorApi.post(`/api/v1/disputes/${disputeId}/resolve`, { outcome: 'REFUND_SELLER', note: 'again' }))
        .status,
    ).toBe(409);

    await until(async () => (await buyer.api.get(`/api/v1/trades/${tradeId}`)).body.trade?.status === 'RESOLVED');
    expect((await balances(buyer.api)).BTC.available).toBe(6_000_000n);
    expect((await balances(seller.api)).BTC).toMatchObject({ available: 4_000_000n, held: 0n, inEscrow: 0n });
    await expectLedgerBalanced(admin);
  });
});
