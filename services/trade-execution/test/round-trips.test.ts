import { randomUUID } from 'node:crypto';
import type { Tx } from '@orrange/db';
import type { EventEnvelope } from '@orrange/queue';
import { createEventHandlers } from '../src/messaging/event-handlers';
import { balance, fund, verify } from './factories';
import { createHarness, type Harness } from './harness';

/** A transaction that counts the statements sent through it (each is one round trip to Postgres). */
function counting(tx: Tx, count: () => void): Tx {
  return {
    client: tx.client,
    query: <R>(sql: string, params?: unknown[]) => {
      count();
      return tx.query<R>(sql, params);
    },
  };
}

describe('round trips of the single-event money paths', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness();
  });

  afterAll(() => h.close());

  it('when a placed hold is cancelled, then the hold row and its HELD balance are read in one statement: read, post, mark', async () => {
    const orderId = randomUUID();
    await fund(h, 'rt-cancel', 'BTC', '1');
    await h.deliver('order.placed', { orderId, userId: 'rt-cancel', side: 'SELL', asset: 'BTC', amount: '0.5' });
    const { handlers } = createEventHandlers(() => h.deps);
    const event = { id: randomUUID(), type: 'order.cancelled', occurredAt: new Date().toISOString(), payload: { orderId, userId: 'rt-cancel', side: 'SELL', asset: 'BTC', remaining: '0.2' } } as EventEnvelope<'order.cancelled'>;
    let statements = 0;
    await h.runtime.db.transaction((tx) => handlers['order.cancelled']!(event, counting(tx, () => (statements += 1))));
    expect(statements).toBe(3);
    expect(await balance(h, 'rt-cancel', 'BTC')).toMatchObject({ available: '0.70000000', held: '0.30000000' });
    expect((await verify(h)).ok).toBe(true);
  });
});
