import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { PermanentFailure } from '@orrange/queue';
import { SYSTEM_ACCOUNT_SHARDS } from '../src/domain/ledger';
import { ADMIN, balance, expireDeadline, openTrade, outboxOf, verify } from './factories';
import { createHarness, type Harness } from './harness';

describe('trades: escrow settlement, disputes, races with the deadline, reads, chat, feedback, statistics', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness({ TRADE_FEE_BPS: '150' });
  });

  afterAll(() => h.close());

  const act = (tradeId: string, userId: string, action: string, body: object = {}) =>
    request(h.app).post(`/api/v1/trades/${tradeId}/${action}`).set(h.as(userId)).send(body);
  const statusOf = async (tradeId: string) =>
    (await h.runtime.db.query<{ status: string }>('SELECT status FROM trades WHERE id = $1', [tradeId]))[0]!.status;
  const disputeIdOf = async (tradeId: string) =>
    (await h.runtime.db.query<{ dispute_id: string }>('SELECT dispute_id FROM trades WHERE id = $1', [tradeId]))[0]!
      .dispute_id;

  // FEES is spread over SYSTEM_ACCOUNT_SHARDS accounts per asset (ref 'shard-N'): what it holds is their sum, in minor units.
  const feesHeld = async () => {
    const rows = await h.testDb.query<{ ref_id: string; balance: string }>(
      `SELECT ref_id, balance::numeric(38, 8)::text AS balance FROM accounts WHERE kind = 'FEES' AND asset = 'BTC'`,
    );
    const shards = new Set(Array.from({ length: SYSTEM_ACCOUNT_SHARDS }, (_, i) => `shard-${i}`));
    expect(rows.filter((r) => !shards.has(r.ref_id))).toEqual([]);
    return rows.reduce((sum, r) => sum + BigInt(r.balance.replace('.', '')), 0n);
  };

  it('when the buyer pays and the seller releases, then the buyer gets the amount minus the fee, FEES the fee, and trade.completed is emitted', async () => {
    const feesBefore = await feesHeld();
    const m = await openTrade(h, { amount: '1.00000000', price: '100.00' });
    expect((await act(m.tradeId, m.buyerId, 'paid')).body.trade).toMatchObject({
      status: 'PAID',
      escrow: { status: 'LOCKED' },
    });
    const res = await act(m.tradeId, m.sellerId, 'release');
    expect(res.status).toBe(200);
    expect(res.body.trade).toMatchObject({
      status: 'COMPLETED',
      escrow: { status: 'RELEASED' },
      fee: '0.01500000',
      fiatAmount: '100.00',
    });
    expect(await balance(h, m.buyerId, 'BTC')).toMatchObject({ available: '0.98500000' });
    expect(await balance(h, m.sellerId, 'BTC')).toMatchObject({ available: '0.00000000', inEscrow: '0.00000000' });
    expect(await outboxOf(h, 'trade.completed')).toContainEqual(
      expect.objectContaining({ tradeId: m.tradeId, amount: '1.00000000', fiatAmount: '100.00' }),
    );
    expect((await feesHeld()) - feesBefore).toBe(1_500_000n);
  });

  it('when the buyer cancels before paying, then the escrow goes back to the seller and trade.cancelled says BUYER_CANCELLED', async () => {
    const m = await openTrade(h, { amount: '0.5' });
    expect((await act(m.tradeId, m.buyerId, 'cancel')).body.trade).toMatchObject({
      status: 'CANCELLED',
      escrow: { status: 'REFUNDED' },
    });
    expect(await balance(h, m.sellerId, 'BTC')).toMatchObject({ available: '0.50000000', inEscrow: '0.00000000' });
    expect(await outboxOf(h, 'trade.cancelled')).toContainEqual({
      tradeId: m.tradeId,
      buyerId: m.buyerId,
      sellerId: m.sellerId,
      reason: 'BUYER_CANCELLED',
    });
  });

  it('when a party disputes, then 201 with a disputeId, trade.disputed is emitted, and the trade is frozen', async () => {
    const m = await openTrade(h);
    await act(m.tradeId, m.buyerId, 'paid');
    const res = await act(m.tradeId, m.buyerId, 'dispute', { reason: 'seller does not release' });
    expect(res.status).toBe(201);
    expect(res.body.disputeId).toEqual(expect.any(String));
    expect(await outboxOf(h, 'trade.disputed')).toContainEqual(
      expect.objectContaining({
        tradeId: m.tradeId,
        disputeId: res.body.disputeId,
        openedBy: m.buyerId,
        reason: 'seller does not release',
        amount: '0.10000000',
        fiatAmount: '5000.00',
      }),
    );
    expect((await act(m.tradeId, m.sellerId, 'release')).status).toBe(409);
    expect((await act(m.tradeId, m.buyerId, 'dispute', { reason: 'again' })).status).toBe(409);
  });

  it.each([
    ['RELEASE_TO_BUYER', null, '0.10000000', '0.00000000', 'RELEASED'],
    ['REFUND_SELLER', null, '0.00000000', '0.10000000', 'REFUNDED'],
    ['SPLIT', '0.04', '0.04000000', '0.06000000', 'RELEASED'],
    ['SPLIT', '0', '0.00000000', '0.10000000', 'REFUNDED'],
  ] as const)(
    'when a dispute is resolved %s (buyerAmount %s), then the escrow moves exactly once as decided',
    async (outcome, buyerAmount, buyerGets, sellerGets, escrowStatus) => {
      const m = await openTrade(h);
      await act(m.tradeId, m.buyerId, 'paid');
      await act(m.tradeId, m.buyerId, 'dispute', { reason: 'x' });
      const disputeId = await disputeIdOf(m.tradeId);
      const event = { disputeId, tradeId: m.tradeId, outcome, buyerAmount, resolvedBy: ADMIN };
      await h.deliver('dispute.resolved', event);
      await h.deliver('dispute.resolved', event);
      await h.deliver('dispute.resolved', { ...event, outcome: 'RELEASE_TO_BUYER', buyerAmount: null });
      expect(await balance(h, m.buyerId, 'BTC')).toMatchObject({ available: buyerGets });
      expect(await balance(h, m.sellerId, 'BTC')).toMatchObject({ available: sellerGets, inEscrow: '0.00000000' });
      const trade = (await request(h.app).get(`/api/v1/trades/${m.tradeId}`).set(h.as(m.buyerId))).body.trade;
      expect(trade).toMatchObject({ status: 'RESOLVED', escrow: { status: escrowStatus }, outcome });
      expect((await outboxOf(h, 'trade.resolved')).filter((e) => e.tradeId === m.tradeId)).toEqual([
        {
          tradeId: m.tradeId,
          disputeId,
          outcome,
          buyerId: m.buyerId,
          sellerId: m.sellerId,
          buyerAmount: buyerGets,
          sellerAmount: sellerGets,
        },
      ]);
    },
  );

  it('when a SPLIT gives the buyer more than the escrow, then it is refused for good and nothing moves', async () => {
    const m = await openTrade(h);
    await act(m.tradeId, m.buyerId, 'paid');
    await act(m.tradeId, m.buyerId, 'dispute', { reason: 'x' });
    const disputeId = await disputeIdOf(m.tradeId);
    const refused = h.deliver('dispute.resolved', {
      disputeId,
      tradeId: m.tradeId,
      outcome: 'SPLIT',
      buyerAmount: '0.10000001',
      resolvedBy: ADMIN,
    });
    await expect(refused).rejects.toThrow(/buyerAmount/);
    // No retry can make it right: the consumer fails the job at once.
    await expect(refused).rejects.toBeInstanceOf(PermanentFailure);
    expect(await statusOf(m.tradeId)).toBe('DISPUTED');
    expect(await balance(h, m.sellerId, 'BTC')).toMatchObject({ inEscrow: '0.10000000' });
  });

  it('when release, cancel, dispute and the deadline race on one trade, then exactly one wins and balances are exact', async () => {
    for (let round = 0; round < 8; round += 1) {
      const m = await openTrade(h, { amount: '0.2' });
      await expireDeadline(h, m.tradeId);
      const results = await Promise.all([
        act(m.tradeId, m.sellerId, 'release'),
        act(m.tradeId, m.buyerId, 'cancel'),
        act(m.tradeId, m.buyerId, 'dispute', { reason: 'late' }),
        h.deadlines.sweepNow(),
        act(m.tradeId, m.sellerId, 'release'),
        act(m.tradeId, m.buyerId, 'cancel'),
      ]);
      const http = results.filter((r): r is request.Response => typeof r === 'object');
      const wins = http.filter((r) => r.status === 200 || r.status === 201).length;
      const status = await statusOf(m.tradeId);
      expect(http.every((r) => [200, 201, 409].includes(r.status))).toBe(true);
      expect(wins).toBe(status === 'CANCELLED' && http.every((r) => r.status === 409) ? 0 : 1);
      const buyer = await balance(h, m.buyerId, 'BTC');
      const seller = await balance(h, m.sellerId, 'BTC');
      if (status === 'COMPLETED')
        expect([buyer.available, seller.available, seller.inEscrow]).toEqual([
          '0.19700000',
          '0.00000000',
          '0.00000000',
        ]);
      if (status === 'CANCELLED')
        expect([buyer.available, seller.available, seller.inEscrow]).toEqual([
          '0.00000000',
          '0.20000000',
          '0.00000000',
        ]);
      if (status === 'DISPUTED')
        expect([buyer.available, seller.available, seller.inEscrow]).toEqual([
          '0.00000000',
          '0.00000000',
          '0.20000000',
        ]);
    }
    expect((await verify(h)).ok).toBe(true);
  });

  it('when a trade is read, then parties, arbitrators and admins see it, others get 404, and lists page by cursor with a status filter', async () => {
    const buyerId = `reader-${randomUUID().slice(0, 6)}`;
    const trades = [];
    for (let i = 0; i < 3; i += 1) trades.push(await openTrade(h, { buyerId }));
    await act(trades[0]!.tradeId, buyerId, 'cancel');
    const t = trades[1]!;
    const get = (userId: string, roles: Array<'user' | 'arbitrator' | 'admin'> = ['user']) =>
      request(h.app).get(`/api/v1/trades/${t.tradeId}`).set(h.as(userId, roles));
    const res = await get(t.sellerId);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.trade)).toEqual(
      expect.arrayContaining([
        'id',
        'matchId',
        'buyOrderId',
        'sellOrderId',
        'buyerId',
        'sellerId',
        'asset',
        'fiatCurrency',
        'price',
        'amount',
        'fiatAmount',
        'paymentMethod',
        'status',
        'paymentDeadline',
        'escrow',
        'createdAt',
        'updatedAt',
      ]),
    );
    expect(res.body.trade).toMatchObject({
      price: '50000.00',
      amount: '0.10000000',
      fiatAmount: '5000.00',
      escrow: { status: 'LOCKED' },
    });
    expect((await get(buyerId)).status).toBe(200);
    expect((await get('curious', ['arbitrator'])).status).toBe(200);
    expect((await get(ADMIN, ['admin'])).status).toBe(200);
    expect((await get('curious')).status).toBe(404);
    expect((await request(h.app).get('/api/v1/trades/no-such-trade').set(h.as(buyerId))).status).toBe(404);

    const page1 = await request(h.app).get('/api/v1/trades?limit=2').set(h.as(buyerId));
    expect(page1.body.data).toHaveLength(2);
    const page2 = await request(h.app).get(`/api/v1/trades?limit=2&cursor=${page1.body.nextCursor}`).set(h.as(buyerId));
    expect(page2.body.data).toHaveLength(1);
    expect(page2.body.nextCursor).toBeNull();
    expect(new Set([...page1.body.data, ...page2.body.data].map((x: { id: string }) => x.id))).toEqual(
      new Set(trades.map((x) => x.tradeId)),
    );
    const cancelled = await request(h.app).get('/api/v1/trades?status=CANCELLED').set(h.as(buyerId));
    expect(cancelled.body.data.map((x: { id: string }) => x.id)).toEqual([trades[0]!.tradeId]);
    expect((await request(h.app).get('/api/v1/trades?status=NOPE').set(h.as(buyerId))).status).toBe(400);
    expect((await request(h.app).get('/api/v1/trades?limit=1000').set(h.as(buyerId))).status).toBe(400);
  });

  it('when bodies carry unknown fields or a stranger acts on a trade, then 4xx and nothing changes', async () => {
    const m = await openTrade(h);
    expect((await act(m.tradeId, m.buyerId, 'paid', { status: 'COMPLETED' })).status).toBe(400);
    expect((await act(m.tradeId, m.sellerId, 'release', { amount: '1' })).status).toBe(400);
    expect((await act(m.tradeId, m.buyerId, 'dispute', { reason: 'x', disputeId: 'mine' })).status).toBe(400);
    expect((await act(m.tradeId, 'mallory', 'release')).status).toBe(404);
    expect((await act(m.tradeId, 'mallory', 'cancel')).status).toBe(404);
    expect(await statusOf(m.tradeId)).toBe('AWAITING_PAYMENT');
    expect(await balance(h, m.sellerId, 'BTC')).toMatchObject({ inEscrow: '0.10000000' });
  });

  it('when a release is retried with the same Idempotency-Key, then the answer replays and the escrow moves once', async () => {
    const m = await openTrade(h);
    const send = () =>
      request(h.app)
        .post(`/api/v1/trades/${m.tradeId}/release`)
        .set(h.as(m.sellerId))
        .set('Idempotency-Key', `rel-${m.tradeId}`)
        .send({});
    const first = await send();
    const again = await send();
    expect([first.status, again.status]).toEqual([200, 200]);
    expect(again.headers['idempotency-replayed']).toBe('true');
    expect(await balance(h, m.buyerId, 'BTC')).toMatchObject({ available: '0.09850000' });
  });

  it('when the parties and the assigned arbitrator chat, then they read each other; others get 404', async () => {
    const m = await openTrade(h);
    const say = (userId: string, body: string, roles: Array<'user' | 'arbitrator' | 'admin'> = ['user']) =>
      request(h.app).post(`/api/v1/trades/${m.tradeId}/messages`).set(h.as(userId, roles)).send({ body });
    expect((await say(m.buyerId, 'paid you')).status).toBe(201);
    expect((await say(m.sellerId, 'not received')).status).toBe(201);
    expect((await say('arb-1', 'hello', ['arbitrator'])).status).toBe(404);
    await act(m.tradeId, m.buyerId, 'paid');
    const res = await act(m.tradeId, m.buyerId, 'dispute', { reason: 'x' });
    await h.deliver('dispute.assigned', { disputeId: res.body.disputeId, tradeId: m.tradeId, arbitratorId: 'arb-1' });
    expect((await say('arb-1', 'I am looking', ['arbitrator'])).status).toBe(201);
    expect((await say('arb-2', 'me too', ['arbitrator'])).status).toBe(404);
    expect((await say('stranger', 'hi')).status).toBe(404);
    expect((await say(m.buyerId, '')).status).toBe(400);
    const list = await request(h.app)
      .get(`/api/v1/trades/${m.tradeId}/messages?limit=2`)
      .set(h.as('arb-1', ['arbitrator']));
    expect(list.body.data.map((x: { body: string }) => x.body)).toEqual(['paid you', 'not received']);
    const rest = await request(h.app)
      .get(`/api/v1/trades/${m.tradeId}/messages?cursor=${list.body.nextCursor}`)
      .set(h.as(m.sellerId));
    expect(rest.body.data.map((x: { body: string }) => x.body)).toEqual(['I am looking']);
    expect((await request(h.app).get(`/api/v1/trades/${m.tradeId}/messages`).set(h.as('stranger'))).status).toBe(404);
  });

  it('when a chat grows past a power of ten, then messages still come in the order they were written', async () => {
    const m = await openTrade(h);
    // Sequence numbers 96 to 107: as text, "100" would sort before "96".
    await h.runtime.db.query(`SELECT setval(pg_get_serial_sequence('trade_messages', 'seq'), 95)`);
    const bodies = Array.from({ length: 12 }, (_, i) => `message ${i + 1}`);
    for (const body of bodies)
      expect(
        (await request(h.app).post(`/api/v1/trades/${m.tradeId}/messages`).set(h.as(m.buyerId)).send({ body })).status,
      ).toBe(201);
    const first = await request(h.app).get(`/api/v1/trades/${m.tradeId}/messages?limit=5`).set(h.as(m.sellerId));
    const rest = await request(h.app)
      .get(`/api/v1/trades/${m.tradeId}/messages?limit=50&cursor=${first.body.nextCursor}`)
      .set(h.as(m.sellerId));
    expect([...first.body.data, ...rest.body.data].map((x: { body: string }) => x.body)).toEqual(bodies);
  });

  it('when a party leaves feedback, then only after COMPLETED and only once; feedback.left is emitted', async () => {
    const m = await openTrade(h);
    const feedback = (userId: string, body: object) =>
      request(h.app).post(`/api/v1/trades/${m.tradeId}/feedback`).set(h.as(userId)).send(body);
    expect((await feedback(m.buyerId, { rating: 'POSITIVE' })).status).toBe(409);
    await act(m.tradeId, m.sellerId, 'release');
    expect((await feedback(m.buyerId, { rating: 'GREAT' })).status).toBe(400);
    expect((await feedback(m.buyerId, { rating: 'POSITIVE', comment: 'fast' })).status).toBe(201);
    const again = await feedback(m.buyerId, { rating: 'NEGATIVE' });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('FEEDBACK.ALREADY_LEFT');
    expect((await feedback(m.sellerId, { rating: 'NEGATIVE' })).status).toBe(201);
    expect((await feedback('stranger', { rating: 'NEGATIVE' })).status).toBe(404);
    expect((await outboxOf(h, 'feedback.left')).filter((e) => e.tradeId === m.tradeId)).toEqual([
      { tradeId: m.tradeId, fromUserId: m.buyerId, toUserId: m.sellerId, rating: 'POSITIVE' },
      { tradeId: m.tradeId, fromUserId: m.sellerId, toUserId: m.buyerId, rating: 'NEGATIVE' },
    ]);
  });

  it('when trades complete, then market and admin statistics count them', async () => {
    for (const [price, amount] of [
      ['100.00', '1'],
      ['200.00', '3'],
    ] as const) {
      const m = await openTrade(h, { asset: 'ETH', fiatCurrency: 'EUR', price, amount });
      await act(m.tradeId, m.sellerId, 'release');
    }
    const res = await request(h.app).get('/api/v1/stats/markets');
    expect(res.status).toBe(200);
    expect(
      res.body.data.find((x: { asset: string; fiatCurrency: string }) => x.asset === 'ETH' && x.fiatCurrency === 'EUR'),
    ).toEqual({
      asset: 'ETH',
      fiatCurrency: 'EUR',
      lastPrice: '200.00',
      high24h: '200.00',
      low24h: '100.00',
      vwap24h: '175.00',
      volume24h: '4.00000000',
      fiatVolume24h: '700.00',
      trades24h: 2,
    });
    const admin = await request(h.app)
      .get('/api/v1/admin/stats')
      .set(h.as(ADMIN, ['admin']));
    expect(admin.body).toMatchObject({
      activeUsers24h: expect.any(Number),
      trades24h: expect.any(Number),
      openTrades: expect.any(Number),
      openDisputes: expect.any(Number),
    });
    expect(admin.body.volume24h).toContainEqual({ asset: 'ETH', amount: '4.00000000' });
    expect(admin.body.activeUsers24h).toBeGreaterThanOrEqual(4);
    const metrics = await request(h.app).get('/metrics');
    expect(metrics.text).toMatch(/trade_volume_total\{asset="ETH",service="trade-execution"\} 4/);
    expect(metrics.text).toContain(`active_users_24h{service="trade-execution"} ${admin.body.activeUsers24h}`);
  });
});
