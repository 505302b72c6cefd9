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
    const payload = {
      ...trade(),
      asset: 'BTC' as const,
      amount: '0.01000000',
      fiatCurrency: 'EUR' as const,
      fiatAmount: '650.00',
      completedAt: new Date().toISOString(),
    };
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
    const resolved = (outcome: 'RELEASE_TO_BUYER' | 'REFUND_SELLER' | 'SPLIT') => ({
      ...trade(),
      disputeId: randomUUID(),
      outcome,
      buyerAmount: '0.01',
      sellerAmount: '0',
    });
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
    await deliver('feedback.left', {
      tradeId: randomUUID(),
      fromUserId: buyer.id,
      toUserId: stranger,
      rating: 'POSITIVE',
    });
    const [row] = await harness.runtime.db.query('SELECT feedback_positive FROM user_stats WHERE user_id = $1', [
      stranger,
    ]);
    expect(row).toEqual({ feedback_positive: 1 });
  });

  it('when an event names a non-uuid user, then it is applied as a no-op instead of failing forever', async () => {
    expect(
      await deliver('feedback.left', { tradeId: 't', fromUserId: 'x', toUserId: 'not-a-uuid', rating: 'POSITIVE' }),
    ).toBe('applied');
  });

  it('when events travel the real queue, then the started consumer applies them', async () => {
    harness.runtime.start();
    const carol = await registerUser(app);
    await harness.runtime.db.transaction((tx) =>
      enqueueEvent(tx, 'feedback.left', {
        tradeId: randomUUID(),
        fromUserId: buyer.id,
        toUserId: carol.id,
        rating: 'POSITIVE',
      }),
    );
    harness.runtime.relay.kick();
    await eventually(async () => (await stats(carol)).feedbackPositive === 1);
  });

  describe('details (API.md "Trading essentials")', () => {
    let a: TestUser;
    let b: TestUser;
    let c: TestUser;
    const at = (secondsAgo: number) => new Date(Date.now() - secondsAgo * 1000).toISOString();
    const completed = (buyerId: string, sellerId: string, extra: Partial<EventPayload<'trade.completed'>> = {}) =>
      deliver('trade.completed', {
        tradeId: randomUUID(),
        buyerId,
        sellerId,
        asset: 'BTC',
        amount: '0.01000000',
        fiatCurrency: 'EUR',
        fiatAmount: '650.00',
        completedAt: at(0),
        ...extra,
      });

    beforeAll(async () => {
      [a, b, c] = await Promise.all([registerUser(app), registerUser(app), registerUser(app)]);
    });

    it('when trades complete, then distinct counterparties, average pay and release times and the 30-day rate follow', async () => {
      await completed(a.id, b.id, { openedAt: at(600), paidAt: at(400), completedAt: at(100) });
      await completed(a.id, b.id, { openedAt: at(300), paidAt: at(200), completedAt: at(100) });
      await completed(c.id, b.id, { openedAt: at(100), paidAt: null, completedAt: at(0) });
      await deliver('trade.cancelled', {
        tradeId: randomUUID(),
        buyerId: a.id,
        sellerId: c.id,
        reason: 'PAYMENT_TIMEOUT',
      });
      expect(await stats(a)).toMatchObject({
        tradesCompleted: 2,
        distinctCounterparties: 1,
        avgPaySeconds: 150,
        avgReleaseSeconds: null,
        completionRate30d: '0.6666',
      });
      expect(await stats(b)).toMatchObject({
        tradesCompleted: 3,
        distinctCounterparties: 2,
        avgPaySeconds: null,
        avgReleaseSeconds: 200,
        completionRate30d: '1.0000',
      });
    });

    it("when a trade is worth less than its currency's REPUTATION_MIN_FIAT, then it counts for nobody", async () => {
      const [x, y] = await Promise.all([registerUser(app), registerUser(app)]);
      for (let i = 0; i < 5; i += 1) expect(await completed(x.id, y.id, { fiatAmount: '9.99' })).toBe('applied');
      expect(await stats(x)).toMatchObject({ tradesCompleted: 0, distinctCounterparties: 0, completionRate: null });
      await completed(x.id, y.id, { fiatAmount: '10.00' });
      expect(await stats(y)).toMatchObject({ tradesCompleted: 1, distinctCounterparties: 1 });
    });
  });
});
