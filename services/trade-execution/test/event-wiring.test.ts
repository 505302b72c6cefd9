import { randomUUID } from 'node:crypto';
import { enqueueEvent } from '@orrange/queue';
import { eventually } from '@orrange/testing';
import { readConfig } from '../src/config';
import { balance, fund, matchEvent } from './factories';
import { createHarness, type Harness } from './harness';

describe('event wiring: outbox → relay → BullMQ → the service\'s handlers', () => {
  let h: Harness;

  beforeAll(async () => {
    // A payment-window minute lasts 20 ms here, so a 15-minute window passes in 0.3 s.
    h = await createHarness({ PAYMENT_MINUTE_MS: '20' });
    h.runtime.start();
  });

  afterAll(() => h.close());

  it('when order.placed and order.matched arrive through the queue, then the hold and the trade happen, and its own delayed deadline job cancels it', async () => {
    const orderId = randomUUID();
    await fund(h, 'wire-seller', 'BTC', '1');
    await h.runtime.db.transaction((tx) => enqueueEvent(tx, 'order.placed', { orderId, userId: 'wire-seller', side: 'SELL', asset: 'BTC', amount: '0.5' }));
    h.runtime.relay.kick();
    await eventually(async () => (await balance(h, 'wire-seller', 'BTC')).held === '0.50000000');

    const match = matchEvent({ sellerId: 'wire-seller', sellOrderId: orderId, sellerFunding: 'HOLD', amount: '0.2', paymentWindowMinutes: 15 });
    await h.runtime.db.transaction((tx) => enqueueEvent(tx, 'order.matched', match));
    h.runtime.relay.kick();
    await eventually(async () => (await balance(h, 'wire-seller', 'BTC')).inEscrow === '0.20000000');
    const [created] = await h.runtime.db.query<{ created_at: Date; payment_deadline: Date }>('SELECT created_at, payment_deadline FROM trades WHERE id = $1', [match.tradeId]);
    expect(created!.payment_deadline.getTime() - created!.created_at.getTime()).toBe(15 * 20);

    const [trade] = await eventually(async () => {
      const rows = await h.runtime.db.query<{ status: string; cancel_reason: string }>('SELECT status, cancel_reason FROM trades WHERE id = $1', [match.tradeId]);
      return rows[0]?.status === 'CANCELLED' ? rows : undefined;
    });
    expect(trade!.cancel_reason).toBe('PAYMENT_TIMEOUT');
    expect(await balance(h, 'wire-seller', 'BTC')).toMatchObject({ available: '0.70000000', held: '0.30000000', inEscrow: '0.00000000' });
  });

  it('when PAYMENT_MINUTE_MS is shortened with NODE_ENV=production, then the service refuses to start', () => {
    expect(() => readConfig({ NODE_ENV: 'production', PAYMENT_MINUTE_MS: '200', INTERNAL_TOKEN_SECRET: 'a-production-secret-that-is-long-enough-0123456789' })).toThrow(/PAYMENT_MINUTE_MS/);
  });
});
