import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { enqueueEvent } from '@orrange/queue';
import { eventually } from '@orrange/testing';
import { readConfig } from '../src/config';
import {
  balance,
  fund,
  openTrade,
  openTrades,
  outboxOf,
  placeSellHolds,
  releaseSellHold,
  sellHold,
  tradeOpening,
} from './factories';
import { createHarness, type Harness } from './harness';

describe('the running service: outbox → relay → BullMQ → handlers, and the deadline sweeper on its interval', () => {
  let h: Harness;

  beforeAll(async () => {
    // A payment-window minute lasts 20 ms here, so a 15-minute window passes in 0.3 s; the sweeper looks every 50 ms.
    h = await createHarness({ PAYMENT_MINUTE_MS: '20', TIMER_SWEEP_MS: '50' });
    await h.start();
  });

  afterAll(() => h.close());

  it('when dispute.assigned arrives through the outbox, the relay and the queue, then the arbitrator is set on the trade and may use its chat (hidden from them before)', async () => {
    const m = await openTrade(h, { amount: '0.1' });
    const chat = () =>
      request(h.app)
        .get(`/api/v1/trades/${m.tradeId}/messages`)
        .set(h.as('wire-arbitrator', ['arbitrator']));
    expect((await request(h.app).post(`/api/v1/trades/${m.tradeId}/paid`).set(h.as(m.buyerId)).send({})).status).toBe(
      200,
    );
    const disputed = await request(h.app)
      .post(`/api/v1/trades/${m.tradeId}/dispute`)
      .set(h.as(m.sellerId))
      .send({ reason: 'no money arrived' });
    expect(disputed.status).toBe(201);
    expect((await chat()).status).toBe(404);

    await h.runtime.db.transaction((tx) =>
      enqueueEvent(tx, 'dispute.assigned', {
        disputeId: disputed.body.disputeId,
        tradeId: m.tradeId,
        arbitratorId: 'wire-arbitrator',
      }),
    );
    h.runtime.relay.kick();
    await eventually(
      async () =>
        (
          await h.runtime.db.query<{ arbitrator_id: string | null }>('SELECT arbitrator_id FROM trades WHERE id = $1', [
            m.tradeId,
          ])
        )[0]?.arbitrator_id === 'wire-arbitrator',
    );
    expect((await chat()).status).toBe(200);
  });

  it('when a trade opens from a hold and the order is cancelled, then the rest of the hold is released at once, and the sweeper cancels the trade once its window has passed', async () => {
    const hold = sellHold('wire-seller', 'BTC', '0.5');
    await fund(h, 'wire-seller', 'BTC', '1');
    expect(await placeSellHolds(h, [hold])).toEqual(['OK']);
    const opening = tradeOpening({
      sellerId: 'wire-seller',
      sellOrderId: hold.orderId,
      sellerFunding: 'HOLD',
      amount: '0.2',
      paymentWindowMinutes: 15,
    });
    expect(await openTrades(h, [opening])).toEqual(['OK']);
    const [created] = await h.runtime.db.query<{ created_at: Date; payment_deadline: Date }>(
      'SELECT created_at, payment_deadline FROM trades WHERE id = $1',
      [opening.tradeId],
    );
    expect(created!.payment_deadline.getTime() - created!.created_at.getTime()).toBe(15 * 20);

    // The cancel releases in its own transaction: no event, nothing to wait for.
    expect(
      await releaseSellHold(h, { orderId: hold.orderId, userId: 'wire-seller', asset: 'BTC', remaining: '0.3' }),
    ).toBe('OK');
    expect(await balance(h, 'wire-seller', 'BTC')).toMatchObject({
      available: '0.80000000',
      held: '0.00000000',
      inEscrow: '0.20000000',
    });

    const [trade] = await eventually(async () => {
      const rows = await h.runtime.db.query<{ status: string; cancel_reason: string }>(
        'SELECT status, cancel_reason FROM trades WHERE id = $1',
        [opening.tradeId],
      );
      return rows[0]?.status === 'CANCELLED' ? rows : undefined;
    });
    expect(trade!.cancel_reason).toBe('PAYMENT_TIMEOUT');
    expect(await balance(h, 'wire-seller', 'BTC')).toMatchObject({
      available: '1.00000000',
      held: '0.00000000',
      inEscrow: '0.00000000',
    });
    expect((await outboxOf(h, 'trade.cancelled')).filter((e) => e.tradeId === opening.tradeId)).toHaveLength(1);
  });

  it('when an event of a type that no longer exists arrives (order.matched or order.cancelled left in the queue by an older version), then it fails without retries and nothing moves', async () => {
    await fund(h, 'wire-old', 'BTC', '1');
    const hold = sellHold('wire-old', 'BTC', '0.5');
    await placeSellHolds(h, [hold]);
    const legacy = [
      { type: 'order.matched', payload: { ...tradeOpening({ sellerId: 'wire-old' }) } },
      {
        type: 'order.cancelled',
        payload: { orderId: hold.orderId, userId: 'wire-old', side: 'SELL', asset: 'BTC', remaining: '0.5' },
      },
    ];
    for (const event of legacy) {
      await expect(
        h.runtime.consumer!.apply({ id: randomUUID(), occurredAt: new Date().toISOString(), ...event }),
      ).rejects.toThrow(/malformed event envelope/);
    }
    expect(await balance(h, 'wire-old', 'BTC')).toMatchObject({
      available: '0.50000000',
      held: '0.50000000',
      inEscrow: '0.00000000',
    });
  });

  it('when PAYMENT_MINUTE_MS is shortened with NODE_ENV=production, then the service refuses to start', () => {
    expect(() =>
      readConfig({
        NODE_ENV: 'production',
        PAYMENT_MINUTE_MS: '200',
        INTERNAL_TOKEN_SECRET: 'a-production-secret-that-is-long-enough-0123456789',
      }),
    ).toThrow(/PAYMENT_MINUTE_MS/);
  });
});
