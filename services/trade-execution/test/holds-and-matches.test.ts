import { randomUUID } from 'node:crypto';
import { balance, fund, matchEvent, outboxOf, verify } from './factories';
import { createHarness, type Harness } from './harness';

describe('holds (order.placed / order.cancelled) and escrow (order.matched)', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness();
  });

  afterAll(() => h.close());

  it('when a SELL order is placed and covered, then the amount moves AVAILABLE → HELD and hold.placed is emitted', async () => {
    const orderId = randomUUID();
    await fund(h, 'h-seller', 'BTC', '1');
    await h.deliver('order.placed', { orderId, userId: 'h-seller', side: 'SELL', asset: 'BTC', amount: '0.4' });
    expect(await balance(h, 'h-seller', 'BTC')).toMatchObject({ available: '0.60000000', held: '0.40000000' });
    expect(await outboxOf(h, 'hold.placed')).toContainEqual({ orderId });
  });

  it('when a SELL order is not covered, then hold.rejected with WALLET.INSUFFICIENT_FUNDS and nothing moves', async () => {
    const orderId = randomUUID();
    await fund(h, 'h-poor', 'ETH', '1');
    await h.deliver('order.placed', { orderId, userId: 'h-poor', side: 'SELL', asset: 'ETH', amount: '1.00000001' });
    expect(await balance(h, 'h-poor', 'ETH')).toMatchObject({ available: '1.00000000', held: '0.00000000' });
    expect(await outboxOf(h, 'hold.rejected')).toContainEqual({ orderId, reason: 'WALLET.INSUFFICIENT_FUNDS' });
  });

  it('when order.placed is delivered twice (same event id or a new one), then the amount is held once', async () => {
    const orderId = randomUUID();
    const eventId = randomUUID();
    await fund(h, 'h-twice', 'BTC', '1');
    const payload = { orderId, userId: 'h-twice', side: 'SELL' as const, asset: 'BTC' as const, amount: '0.3' };
    expect(await h.deliver('order.placed', payload, eventId)).toBe('applied');
    expect(await h.deliver('order.placed', payload, eventId)).toBe('duplicate');
    expect(await h.deliver('order.placed', payload)).toBe('applied');
    expect(await balance(h, 'h-twice', 'BTC')).toMatchObject({ available: '0.70000000', held: '0.30000000' });
  });

  it('when an order is cancelled, then exactly `remaining` returns, never more than the hold holds, and only once', async () => {
    const orderId = randomUUID();
    await fund(h, 'h-cancel', 'USDT', '100');
    await h.deliver('order.placed', { orderId, userId: 'h-cancel', side: 'SELL', asset: 'USDT', amount: '50' });
    await h.deliver('order.cancelled', { orderId, userId: 'h-cancel', side: 'SELL', asset: 'USDT', remaining: '20' });
    expect(await balance(h, 'h-cancel', 'USDT')).toMatchObject({ available: '70.000000', held: '30.000000' });
    await h.deliver('order.cancelled', { orderId, userId: 'h-cancel', side: 'SELL', asset: 'USDT', remaining: '20' });
    expect(await balance(h, 'h-cancel', 'USDT')).toMatchObject({ available: '70.000000', held: '30.000000' });

    const other = randomUUID();
    await h.deliver('order.placed', { orderId: other, userId: 'h-cancel', side: 'SELL', asset: 'USDT', amount: '10' });
    await h.deliver('order.cancelled', { orderId: other, userId: 'h-cancel', side: 'SELL', asset: 'USDT', remaining: '999' });
    expect(await balance(h, 'h-cancel', 'USDT')).toMatchObject({ available: '70.000000', held: '30.000000' });
  });

  it('when a cancel carries a negative remaining or more decimals than the asset allows, then it fails without retries and the hold stays, to be released by a sound one', async () => {
    const orderId = randomUUID();
    await fund(h, 'h-cancel-bad', 'USDT', '100');
    await h.deliver('order.placed', { orderId, userId: 'h-cancel-bad', side: 'SELL', asset: 'USDT', amount: '50' });
    // A sign is refused by the event contract, before any handler; the decimals by the handler, at the asset's scale.
    for (const [remaining, refusal] of [['-5', /malformed order.cancelled payload/], ['0.1234567', /not an amount of USDT/]] as const) {
      await expect(h.deliver('order.cancelled', { orderId, userId: 'h-cancel-bad', side: 'SELL', asset: 'USDT', remaining })).rejects.toThrow(refusal);
    }
    expect(await balance(h, 'h-cancel-bad', 'USDT')).toMatchObject({ available: '50.000000', held: '50.000000' });
    await h.deliver('order.cancelled', { orderId, userId: 'h-cancel-bad', side: 'SELL', asset: 'USDT', remaining: '50' });
    expect(await balance(h, 'h-cancel-bad', 'USDT')).toMatchObject({ available: '100.000000', held: '0.000000' });
    expect((await verify(h)).ok).toBe(true);
  });

  it('when the cancel arrives before the placement, then the placement holds nothing', async () => {
    const orderId = randomUUID();
    await fund(h, 'h-early', 'BTC', '1');
    await h.deliver('order.cancelled', { orderId, userId: 'h-early', side: 'SELL', asset: 'BTC', remaining: '0.5' });
    await h.deliver('order.placed', { orderId, userId: 'h-early', side: 'SELL', asset: 'BTC', amount: '0.5' });
    expect(await balance(h, 'h-early', 'BTC')).toMatchObject({ available: '1.00000000', held: '0.00000000' });
  });

  it('when parallel holds drain one balance, then the covered ones hold, the rest are rejected, never negative, never double', async () => {
    await fund(h, 'h-race', 'BTC', '1');
    const orders: string[] = Array.from({ length: 12 }, () => randomUUID());
    await Promise.all(orders.map((orderId) => h.deliver('order.placed', { orderId, userId: 'h-race', side: 'SELL', asset: 'BTC', amount: '0.25' })));
    expect(await balance(h, 'h-race', 'BTC')).toMatchObject({ available: '0.00000000', held: '1.00000000' });
    const placed = (await outboxOf(h, 'hold.placed')).filter((e) => orders.includes(e.orderId as string));
    const rejected = (await outboxOf(h, 'hold.rejected')).filter((e) => orders.includes(e.orderId as string));
    expect(placed).toHaveLength(4);
    expect(rejected).toHaveLength(8);
    expect((await verify(h)).ok).toBe(true);
  });

  it('when a match funds from the SELL hold, then HELD → ESCROW, the trade is AWAITING_PAYMENT with fiatAmount, and the deadline is scheduled', async () => {
    const sellOrderId = randomUUID();
    await fund(h, 'h-maker', 'BTC', '1');
    await h.deliver('order.placed', { orderId: sellOrderId, userId: 'h-maker', side: 'SELL', asset: 'BTC', amount: '1' });
    const event = matchEvent({ sellerId: 'h-maker', sellOrderId, sellerFunding: 'HOLD', amount: '0.12345678', price: '64250.50', paymentWindowMinutes: 15 });
    const before = Date.now();
    await h.deliver('order.matched', event);
    expect(await balance(h, 'h-maker', 'BTC')).toMatchObject({ available: '0.00000000', held: '0.87654322', inEscrow: '0.12345678' });
    const [trade] = await h.runtime.db.query<{ status: string; fiat_amount: string; payment_deadline: Date }>('SELECT * FROM trades WHERE id = $1', [event.tradeId]);
    expect(trade!.status).toBe('AWAITING_PAYMENT');
    expect(trade!.fiat_amount).toBe('7932.16');
    expect(trade!.payment_deadline.getTime()).toBeGreaterThanOrEqual(before + 15 * 60_000 - 1000);
    const [deadline] = await h.runtime.db.query<{ deliver_at: Date }>(`SELECT deliver_at FROM outbox WHERE type = 'trade.payment-deadline' AND payload->>'tradeId' = $1`, [event.tradeId]);
    expect(deadline!.deliver_at.getTime()).toBe(trade!.payment_deadline.getTime());
    expect(await outboxOf(h, 'trade.created')).toContainEqual(expect.objectContaining({ tradeId: event.tradeId, fiatAmount: '7932.16' }));

    // A cancel of the rest releases only the rest; the escrow stays.
    await h.deliver('order.cancelled', { orderId: sellOrderId, userId: 'h-maker', side: 'SELL', asset: 'BTC', remaining: '0.87654322' });
    expect(await balance(h, 'h-maker', 'BTC')).toMatchObject({ available: '0.87654322', held: '0.00000000', inEscrow: '0.12345678' });
  });

  it('when a match is not covered, then match.rejected and nothing moves; redelivered, it stays rejected once', async () => {
    await fund(h, 'h-short', 'ETH', '0.5');
    const event = matchEvent({ sellerId: 'h-short', asset: 'ETH', amount: '0.6' });
    await h.deliver('order.matched', event);
    await h.deliver('order.matched', event);
    expect(await balance(h, 'h-short', 'ETH')).toMatchObject({ available: '0.50000000', inEscrow: '0.00000000' });
    expect((await outboxOf(h, 'match.rejected')).filter((e) => e.matchId === event.matchId)).toEqual([
      { matchId: event.matchId, tradeId: event.tradeId, buyOrderId: event.buyOrderId, sellOrderId: null, amount: '0.6', reason: 'WALLET.INSUFFICIENT_FUNDS' },
    ]);
    expect(await h.runtime.db.query('SELECT 1 FROM trades WHERE id = $1', [event.tradeId])).toHaveLength(0);
  });

  it('when order.matched is redelivered under a new event id, then the escrow moves once and one trade exists', async () => {
    await fund(h, 'h-dup', 'BTC', '1');
    const event = matchEvent({ sellerId: 'h-dup', amount: '0.2' });
    await Promise.all([h.deliver('order.matched', event), h.deliver('order.matched', event), h.deliver('order.matched', event)]);
    expect(await balance(h, 'h-dup', 'BTC')).toMatchObject({ available: '0.80000000', inEscrow: '0.20000000' });
    expect(await h.runtime.db.query('SELECT 1 FROM trades WHERE match_id = $1', [event.matchId])).toHaveLength(1);
    expect((await outboxOf(h, 'trade.created')).filter((e) => e.tradeId === event.tradeId)).toHaveLength(1);
  });

  it('when a match carries more decimals than the asset allows, then it is rejected and nothing moves', async () => {
    await fund(h, 'h-scale', 'USDC', '10');
    const event = matchEvent({ sellerId: 'h-scale', asset: 'USDC', amount: '1.1234567' });
    await h.deliver('order.matched', event);
    expect(await balance(h, 'h-scale', 'USDC')).toMatchObject({ available: '10.000000', inEscrow: '0.000000' });
    expect(await outboxOf(h, 'match.rejected')).toContainEqual(expect.objectContaining({ matchId: event.matchId, reason: 'VALIDATION.FAILED' }));
  });
});
