import { randomUUID } from 'node:crypto';
import { enqueueEvent } from '@orrange/queue';
import { eventually } from '@orrange/testing';
import { balance, expireDeadline, fund, matchEvent } from './factories';
import { createHarness, type Harness } from './harness';

describe('event wiring: outbox → relay → BullMQ → the service\'s handlers', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness();
    h.runtime.start();
  });

  afterAll(() => h.close());

  it('when order.placed and order.matched arrive through the queue, then the hold and the trade happen, and a delayed deadline cancels it', async () => {
    const orderId = randomUUID();
    await fund(h, 'wire-seller', 'BTC', '1');
    await h.runtime.db.transaction((tx) => enqueueEvent(tx, 'order.placed', { orderId, userId: 'wire-seller', side: 'SELL', asset: 'BTC', amount: '0.5' }));
    h.runtime.relay.kick();
    await eventually(async () => (await balance(h, 'wire-seller', 'BTC')).held === '0.50000000');

    const match = matchEvent({ sellerId: 'wire-seller', sellOrderId: orderId, sellerFunding: 'HOLD', amount: '0.2' });
    await h.runtime.db.transaction((tx) => enqueueEvent(tx, 'order.matched', match));
    h.runtime.relay.kick();
    await eventually(async () => (await balance(h, 'wire-seller', 'BTC')).inEscrow === '0.20000000');

    await expireDeadline(h, match.tradeId);
    await h.runtime.db.transaction((tx) => enqueueEvent(tx, 'trade.payment-deadline', { tradeId: match.tradeId }, { deliverAt: new Date(Date.now() + 300) }));
    h.runtime.relay.kick();
    const [trade] = await eventually(async () => {
      const rows = await h.runtime.db.query<{ status: string; cancel_reason: string }>('SELECT status, cancel_reason FROM trades WHERE id = $1', [match.tradeId]);
      return rows[0]?.status === 'CANCELLED' ? rows : undefined;
    });
    expect(trade!.cancel_reason).toBe('PAYMENT_TIMEOUT');
    expect(await balance(h, 'wire-seller', 'BTC')).toMatchObject({ available: '0.70000000', held: '0.30000000', inEscrow: '0.00000000' });
  });
});
