import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { enqueueEvent, type EventPayload, type EventType } from '@orrange/queue';
import { eventually } from '@orrange/testing';
import { registerUser, type TestUser } from './fixtures';
import { createHarness, type Harness } from './harness';

describe('reputation consumer', () => {
  let harness: Harness;
  let app: ReturnType<Harness['app']>;
  let buyer: TestUser;
  let seller: TestUser;

  beforeAll(async () => {
    harness = await createHarness();
    app = harness.app();
    [buyer, seller] = await Promise.all([registerUser(app), registerUser(app)]);
  });

  afterAll(() => harness.close());

  function deliver<T extends EventType>(type: T, payload: EventPayload<T>, id = randomUUID()) {
    return harness.runtime.consumer!.apply({ id, type, occurredAt: new Date().toISOString(), payload });
  }

  const stats = async (user: TestUser) => (await request(app).get(`/api/v1/users/${user.id}`)).body.stats;
  const trade = () => ({ tradeId: randomUUID(), buyerId: buyer.id, sellerId: seller.id });

  it('when trade.completed arrives twice with one event id, then both parties count one completed trade', async () => {
    const id = randomUUID();
    const payload = { ...trade(), asset: 'BTC' as const, amount: '0.01000000', fiatCurrency: 'EUR' as const, fiatAmount: '650.00', completedAt: new Date().toISOString() };
    expect(await deliver('trade.completed', payload, id)).toBe('applied');
    expect(await deliver('trade.completed', payload, id)).toBe('duplicate');
    expect(await stats(buyer)).toMatchObject({ tradesCompleted: 1, completionRate: '1.0000' });
    expect(await stats(seller)).toMatchObject({ tradesCompleted: 1, completionRate: '1.0000' });
  });

  it("when trades are cancelled, then the buyer's completion rate counts them and the seller's does not", async () => {
    await deliver('trade.cancelled', { ...trade(), reason: 'PAYMENT_TIMEOUT' });
    await deliver('trade.cancelled', { ...trade(), reason: 'BUYER_CANCELLED' });
    expect(await stats(buyer)).toMatchObject({ tradesCompleted: 1, completionRate: '0.3333' });
    expect(await stats(seller)).toMatchObject({ tradesCompleted: 1, completionRate: '1.0000' });
  });

  it('when disputes are resolved, then the losing side counts one lost dispute, and nobody on a split', async () => {
    const resolved = (outcome: 'RELEASE_TO_BUYER' | 'REFUND_SELLER' | 'SPLIT') => ({ ...trade(), disputeId: randomUUID(), outcome, buyerAmount: '0.01', sellerAmount: '0' });
    await deliver('trade.resolved', resolved('RELEASE_TO_BUYER'));
    await deliver('trade.resolved', resolved('REFUND_SELLER'));
    await deliver('trade.resolved', resolved('REFUND_SELLER'));
    await deliver('trade.resolved', resolved('SPLIT'));
    expect((await stats(seller)).disputesLost).toBe(1);
    expect((await stats(buyer)).disputesLost).toBe(2);
  });

  it('when feedback is left, then the receiver counts it by rating, once per event', async () => {
    const id = randomUUID();
    const positive = { tradeId: randomUUID(), fromUserId: buyer.id, toUserId: seller.id, rating: 'POSITIVE' as const };
    await deliver('feedback.left', positive, id);
    await deliver('feedback.left', positive, id);
    await deliver('feedback.left', { ...positive, tradeId: randomUUID(), rating: 'NEGATIVE' });
    expect(await stats(seller)).toMatchObject({ feedbackPositive: 1, feedbackNegative: 1 });
    expect(await stats(buyer)).toMatchObject({ feedbackPositive: 0, feedbackNegative: 0 });
  });

  it('when an event names a user before their account exists here, then the counter is kept for them', async () => {
    const stranger = randomUUID();
    await deliver('feedback.left', { tradeId: randomUUID(), fromUserId: buyer.id, toUserId: stranger, rating: 'POSITIVE' });
    const [row] = await harness.runtime.db.query('SELECT feedback_positive FROM user_stats WHERE user_id = $1', [stranger]);
    expect(row).toEqual({ feedback_positive: 1 });
  });

  it('when an event names a non-uuid user, then it is applied as a no-op instead of failing forever', async () => {
    expect(await deliver('feedback.left', { tradeId: 't', fromUserId: 'x', toUserId: 'not-a-uuid', rating: 'POSITIVE' })).toBe('applied');
  });

  it('when events travel the real queue, then the started consumer applies them', async () => {
    harness.runtime.start();
    const carol = await registerUser(app);
    await harness.runtime.db.transaction((tx) => enqueueEvent(tx, 'feedback.left', { tradeId: randomUUID(), fromUserId: buyer.id, toUserId: carol.id, rating: 'POSITIVE' }));
    harness.runtime.relay.kick();
    await eventually(async () => (await stats(carol)).feedbackPositive === 1);
  });
});
