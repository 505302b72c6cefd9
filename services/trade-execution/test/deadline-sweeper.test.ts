import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { createLogger } from '@orrange/logger';
import { createTradeExecutionService } from '../src/composition';
import { DUE_TRADES_PER_SWEEP_MAX } from '../src/messaging/deadline-sweeper';
import { balance, expireDeadline, fund, openTrade, openTrades, outboxOf, tradeOpening, verify } from './factories';
import { createHarness, type Harness } from './harness';

/** Payment deadlines are rows (trades.payment_deadline); the sweeper cancels the due ones. Tests sweep by hand. */
describe('payment deadline sweeper', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness();
  });

  afterAll(() => h.close());

  const act = (tradeId: string, userId: string, action: string, body: object = {}) =>
    request(h.app).post(`/api/v1/trades/${tradeId}/${action}`).set(h.as(userId)).send(body);
  const statusOf = async (tradeId: string) =>
    (await h.runtime.db.query<{ status: string }>('SELECT status FROM trades WHERE id = $1', [tradeId]))[0]!.status;
  const settlements = async (tradeIds: string[]) =>
    await h.runtime.db.query<{ ref: string; n: number }>(
      `SELECT ref, count(*)::int AS n FROM journals WHERE kind LIKE 'SETTLE_%' AND ref = ANY ($1::text[]) GROUP BY ref`,
      [tradeIds],
    );

  it("when a trade's payment deadline has passed, then one sweep cancels it with the escrow back to the seller and trade.cancelled PAYMENT_TIMEOUT, and later sweeps change nothing", async () => {
    const m = await openTrade(h, { amount: '0.3' });
    await expireDeadline(h, m.tradeId);
    expect(await h.deadlines.sweepNow()).toBe(1);
    expect(await h.deadlines.sweepNow()).toBe(0);

    const [trade] = await h.runtime.db.query(
      'SELECT status, escrow_status, cancel_reason, closed_at IS NOT NULL AS closed FROM trades WHERE id = $1',
      [m.tradeId],
    );
    expect(trade).toEqual({
      status: 'CANCELLED',
      escrow_status: 'REFUNDED',
      cancel_reason: 'PAYMENT_TIMEOUT',
      closed: true,
    });
    expect(await balance(h, m.sellerId, 'BTC')).toMatchObject({ available: '0.30000000', inEscrow: '0.00000000' });
    expect(await balance(h, m.buyerId, 'BTC')).toMatchObject({ available: '0.00000000' });
    expect((await outboxOf(h, 'trade.cancelled')).filter((e) => e.tradeId === m.tradeId)).toEqual([
      { tradeId: m.tradeId, buyerId: m.buyerId, sellerId: m.sellerId, reason: 'PAYMENT_TIMEOUT' },
    ]);
    expect(await settlements([m.tradeId])).toEqual([{ ref: m.tradeId, n: 1 }]);
  });

  it("when a trade's deadline has not passed, then the sweep leaves it alone", async () => {
    const m = await openTrade(h);
    expect(await h.deadlines.sweepNow()).toBe(0);
    expect(await statusOf(m.tradeId)).toBe('AWAITING_PAYMENT');
    expect(await balance(h, m.sellerId, 'BTC')).toMatchObject({ inEscrow: '0.10000000' });
  });

  it('when the deadline of a PAID or DISPUTED trade passes, then the sweep does not touch it', async () => {
    const paid = await openTrade(h);
    const disputed = await openTrade(h);
    for (const m of [paid, disputed]) expect((await act(m.tradeId, m.buyerId, 'paid')).status).toBe(200);
    expect((await act(disputed.tradeId, disputed.sellerId, 'dispute', { reason: 'no money arrived' })).status).toBe(
      201,
    );
    for (const m of [paid, disputed]) await expireDeadline(h, m.tradeId);

    expect(await h.deadlines.sweepNow()).toBe(0);
    expect([await statusOf(paid.tradeId), await statusOf(disputed.tradeId)]).toEqual(['PAID', 'DISPUTED']);
    for (const m of [paid, disputed])
      expect(await balance(h, m.sellerId, 'BTC')).toMatchObject({ available: '0.00000000', inEscrow: '0.10000000' });
    expect(await settlements([paid.tradeId, disputed.tradeId])).toEqual([]);
  });

  it('when two services on one database sweep at once, then each due trade is cancelled exactly once', async () => {
    const replica = createTradeExecutionService(h.config, { logger: createLogger('trade-execution', 'silent') });
    try {
      const seller = `sweep-seller-${randomUUID().slice(0, 8)}`;
      await fund(h, seller, 'BTC', '1');
      const openings = Array.from({ length: 20 }, () => tradeOpening({ sellerId: seller, amount: '0.05' }));
      expect(await openTrades(h, openings)).toEqual(openings.map(() => 'OK'));
      const tradeIds = openings.map((o) => o.tradeId);
      await h.runtime.db.query(
        `UPDATE trades SET payment_deadline = now() - interval '1 second' WHERE id = ANY ($1::text[])`,
        [tradeIds],
      );

      const fired = await Promise.all([
        h.deadlines.sweepNow(),
        replica.deadlines.sweepNow(),
        h.deadlines.sweepNow(),
        replica.deadlines.sweepNow(),
      ]);
      expect(fired.reduce((a, b) => a + b, 0)).toBe(openings.length);
      const statuses = await h.runtime.db.query<{ status: string }>(
        'SELECT DISTINCT status FROM trades WHERE id = ANY ($1::text[])',
        [tradeIds],
      );
      expect(statuses).toEqual([{ status: 'CANCELLED' }]);
      expect(await settlements(tradeIds)).toEqual(expect.arrayContaining(tradeIds.map((ref) => ({ ref, n: 1 }))));
      expect(await settlements(tradeIds)).toHaveLength(tradeIds.length);
      expect((await outboxOf(h, 'trade.cancelled')).filter((e) => tradeIds.includes(e.tradeId as string))).toHaveLength(
        tradeIds.length,
      );
      expect(await balance(h, seller, 'BTC')).toMatchObject({ available: '1.00000000', inEscrow: '0.00000000' });
      expect((await verify(h)).ok).toBe(true);
    } finally {
      await replica.close();
    }
  });

  it('when more trades are due than one sweep takes, then each sweep takes a bounded batch and the next ones take the rest', async () => {
    const seller = `backlog-seller-${randomUUID().slice(0, 8)}`;
    await fund(h, seller, 'USDT', '1000');
    const openings = Array.from({ length: DUE_TRADES_PER_SWEEP_MAX + 5 }, () =>
      tradeOpening({ sellerId: seller, asset: 'USDT', price: '1.00', amount: '1' }),
    );
    await openTrades(h, openings);
    await h.runtime.db.query(`UPDATE trades SET payment_deadline = now() - interval '1 second' WHERE seller_id = $1`, [
      seller,
    ]);
    expect(await h.deadlines.sweepNow()).toBe(DUE_TRADES_PER_SWEEP_MAX);
    expect(await h.deadlines.sweepNow()).toBe(5);
    expect(await h.deadlines.sweepNow()).toBe(0);
    expect(await balance(h, seller, 'USDT')).toMatchObject({ available: '1000.000000', inEscrow: '0.000000' });
  });

  it('when the sweep cancels trades, then timers_fired_total{timer="payment-deadline"} counts them', async () => {
    const firedSoFar = async () => {
      const metrics = await request(h.app).get('/metrics');
      const line = /^timers_fired_total\{[^}]*timer="payment-deadline"[^}]*\} (\d+)$/m.exec(metrics.text);
      return Number(line?.[1] ?? 0);
    };
    const before = await firedSoFar();
    const trades = [await openTrade(h), await openTrade(h), await openTrade(h)];
    for (const m of trades.slice(0, 2)) await expireDeadline(h, m.tradeId);
    expect(await h.deadlines.sweepNow()).toBe(2);
    expect(await h.deadlines.sweepNow()).toBe(0);
    expect(await firedSoFar()).toBe(before + 2);
  });

  it('when one due trade cannot be expired, then the other due trades are still cancelled and the broken one is left as it was', async () => {
    // A trade row the expiry cannot settle (an amount finer than USDC's 6 decimals), due before a sound one. open_trades
    // refuses such an amount now (see order-path-functions' refused input); the row is written directly, as a broken
    // row or a bug would leave it.
    const poison = randomUUID();
    await h.runtime.db.query(
      `INSERT INTO trades (id, match_id, buyer_id, seller_id, asset, fiat_currency, price, amount, fiat_amount, payment_method, payment_window_minutes, status, escrow_status, payment_deadline)
       VALUES ($1, $1, 'poison-buyer', 'poison-seller', 'USDC', 'USD', 1, 1.1234567, 1.12, 'SEPA', 30, 'AWAITING_PAYMENT', 'LOCKED', now() - interval '1 hour')`,
      [poison],
    );
    try {
      const sound = await openTrade(h);
      await expireDeadline(h, sound.tradeId);
      expect(await h.deadlines.sweepNow()).toBe(1);
      expect(await statusOf(sound.tradeId)).toBe('CANCELLED');
      expect(await statusOf(poison)).toBe('AWAITING_PAYMENT');
      expect(await settlements([poison])).toEqual([]);
    } finally {
      // The other tests of this file sweep too: the row goes, whatever happened.
      await h.runtime.db.query(`UPDATE trades SET status = 'CANCELLED' WHERE id = $1`, [poison]);
    }
  });
});
