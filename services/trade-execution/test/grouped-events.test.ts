import { randomUUID } from 'node:crypto';
import type { Tx } from '@orrange/db';
import { createLogger } from '@orrange/logger';
import type { Asset } from '@orrange/money';
import type { EventEnvelope, EventPayload } from '@orrange/queue';
import { eventually } from '@orrange/testing';
import { createTradeExecution } from '../src/composition';
import { available, held, journalId, journalsJson, type Movement } from '../src/domain/ledger';
import { createEventHandlers } from '../src/messaging/event-handlers';
import { balance, fund, matchEvent, verify } from './factories';
import { createHarness, deliverGroup, type GroupedEvent, type Harness } from './harness';

const placed = (orderId: string, userId: string, asset: Asset, amount: string, side: 'SELL' | 'BUY' = 'SELL'): GroupedEvent => ({ type: 'order.placed', payload: { orderId, userId, side, asset, amount } });
const matched = (payload: EventPayload<'order.matched'>, id?: string): GroupedEvent => ({ type: 'order.matched', payload, id });

describe('grouped events: order.placed and order.matched applied in bulk, each decided as if alone', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness();
  });

  afterAll(() => h.close());

  /** What trade-execution answered about these orders or trades, in outbox order, and by how many transactions. */
  async function answers(refs: string[]): Promise<{ events: Array<[string, Record<string, unknown>]>; transactions: number }> {
    const rows = await h.runtime.db.query<{ type: string; payload: Record<string, unknown>; tx: string }>(
      `SELECT type, payload, xmin::text AS tx FROM outbox WHERE coalesce(payload->>'orderId', payload->>'tradeId') = ANY($1::text[]) ORDER BY seq`,
      [refs],
    );
    return { events: rows.map((r) => [r.type, r.payload]), transactions: new Set(rows.map((r) => r.tx)).size };
  }

  it('when a group of holds from several sellers is applied, then each is placed or rejected exactly as one by one would, in one transaction', async () => {
    await fund(h, 'g-a', 'BTC', '1');
    await fund(h, 'g-b', 'ETH', '0.5');
    await fund(h, 'g-c', 'USDT', '10');
    await fund(h, 'g-d', 'BTC', '1');
    const o = Array.from({ length: 8 }, () => randomUUID());
    // This cancel came before its placement: the placement must hold nothing.
    await h.deliver('order.cancelled', { orderId: o[7]!, userId: 'g-d', side: 'SELL', asset: 'BTC', remaining: '0.5' });
    const twiceId = randomUUID();

    const outcomes = await h.deliverGroup([
      placed(o[0]!, 'g-a', 'BTC', '0.6'),
      placed(o[1]!, 'g-b', 'ETH', '0.6'), // more than g-b has
      placed(o[2]!, 'g-a', 'BTC', '0.6'), // after o[0], g-a has 0.4 left
      placed(o[3]!, 'g-a', 'BTC', '0.4'), // exactly what is left
      { ...placed(o[4]!, 'g-c', 'USDT', '10'), id: twiceId },
      placed(o[5]!, 'g-c', 'USDT', '1.1234567'), // more decimals than USDT has
      placed(o[6]!, 'g-b', 'ETH', '0.5', 'BUY'), // BUY orders hold nothing
      placed(o[7]!, 'g-d', 'BTC', '0.5'), // the tombstone wins
      placed(o[0]!, 'g-a', 'BTC', '0.6'), // o[0] again under a new event id
      { ...placed(o[4]!, 'g-c', 'USDT', '10'), id: twiceId }, // the same event twice
    ]);

    expect(outcomes).toEqual([...Array<string>(9).fill('applied'), 'duplicate']);
    expect(await balance(h, 'g-a', 'BTC')).toMatchObject({ available: '0.00000000', held: '1.00000000' });
    expect(await balance(h, 'g-b', 'ETH')).toMatchObject({ available: '0.50000000', held: '0.00000000' });
    expect(await balance(h, 'g-c', 'USDT')).toMatchObject({ available: '0.000000', held: '10.000000' });
    expect(await balance(h, 'g-d', 'BTC')).toMatchObject({ available: '1.00000000', held: '0.00000000' });
    expect(await answers(o)).toEqual({
      events: [
        ['hold.placed', { orderId: o[0] }],
        ['hold.rejected', { orderId: o[1], reason: 'WALLET.INSUFFICIENT_FUNDS' }],
        ['hold.rejected', { orderId: o[2], reason: 'WALLET.INSUFFICIENT_FUNDS' }],
        ['hold.placed', { orderId: o[3] }],
        ['hold.placed', { orderId: o[4] }],
        ['hold.rejected', { orderId: o[5], reason: 'VALIDATION.FAILED' }],
      ],
      transactions: 1,
    });
    const statuses = await h.runtime.db.query<{ order_id: string; status: string }>('SELECT order_id, status FROM order_holds WHERE order_id = ANY($1::text[])', [o]);
    expect(o.map((id) => statuses.find((s) => s.order_id === id)?.status)).toEqual(['PLACED', 'REJECTED', 'REJECTED', 'PLACED', 'PLACED', 'REJECTED', undefined, 'CANCELLED_EARLY']);
    expect((await verify(h)).ok).toBe(true);
  });

  it('when a group of matches funded from a hold and from AVAILABLE is applied, then exactly the trades, escrows and answers of one by one; redelivered (same event ids or new ones), nothing changes', async () => {
    await fund(h, 'm-s1', 'BTC', '1');
    await fund(h, 'm-s2', 'BTC', '0.3');
    const sellOrderId = randomUUID();
    await h.deliver('order.placed', { orderId: sellOrderId, userId: 'm-s1', side: 'SELL', asset: 'BTC', amount: '0.8' });
    const fromHold = (amount: string) => matchEvent({ sellerId: 'm-s1', sellOrderId, sellerFunding: 'HOLD', amount });
    const m = [
      fromHold('0.5'),
      fromHold('0.5'), // the hold has 0.3 left
      matchEvent({ sellerId: 'm-s2', amount: '0.2' }),
      matchEvent({ sellerId: 'm-s2', amount: '0.2' }), // m-s2 has 0.1 left
      fromHold('0.3'), // exactly what the hold has left
      matchEvent({ sellerId: 'm-s1', amount: '0.2' }), // m-s1's AVAILABLE, untouched by the hold
      matchEvent({ sellerId: 'm-s2', price: '0.00' }),
    ];
    const eventIds = m.map(() => randomUUID());
    const group = [...m.map((e, i) => matched(e, eventIds[i])), matched(m[0]!), matched(m[2]!, eventIds[2])];

    expect(await h.deliverGroup(group)).toEqual([...Array<string>(8).fill('applied'), 'duplicate']);
    const tradeIds = m.map((e) => e.tradeId);
    const snapshot = async () => ({
      s1: await balance(h, 'm-s1', 'BTC'),
      s2: await balance(h, 'm-s2', 'BTC'),
      answers: await answers(tradeIds),
      trades: await h.runtime.db.query('SELECT id, status, escrow_status, amount::text FROM trades WHERE id = ANY($1::text[]) ORDER BY id', [tradeIds]),
      escrows: await h.runtime.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM journals WHERE kind = 'ESCROW' AND ref = ANY($1::text[])`, [tradeIds]),
      rejected: await h.runtime.db.query('SELECT match_id, reason FROM rejected_matches WHERE trade_id = ANY($1::text[]) ORDER BY match_id', [tradeIds]),
    });
    const after = await snapshot();

    expect(after.s1).toMatchObject({ available: '0.00000000', held: '0.00000000', inEscrow: '1.00000000' });
    expect(after.s2).toMatchObject({ available: '0.10000000', held: '0.00000000', inEscrow: '0.20000000' });
    const created = (i: number) => [
      ['trade.created', expect.objectContaining({ tradeId: m[i]!.tradeId, matchId: m[i]!.matchId, amount: expect.any(String) })],
      ['trade.payment-deadline', { tradeId: m[i]!.tradeId }],
    ];
    const rejected = (i: number, reason: string) => [['match.rejected', expect.objectContaining({ matchId: m[i]!.matchId, tradeId: m[i]!.tradeId, reason })]];
    expect(after.answers).toEqual({
      events: [...created(0), ...rejected(1, 'WALLET.INSUFFICIENT_FUNDS'), ...created(2), ...rejected(3, 'WALLET.INSUFFICIENT_FUNDS'), ...created(4), ...created(5), ...rejected(6, 'VALIDATION.FAILED')],
      transactions: 1,
    });
    expect(after.trades).toHaveLength(4);
    expect(after.trades.every((t) => t.status === 'AWAITING_PAYMENT' && t.escrow_status === 'LOCKED')).toBe(true);
    expect(after.escrows).toEqual([{ n: 4 }]);
    expect(after.rejected).toHaveLength(3);

    // Redelivered with the same event ids, under new ones as a group, and alone: nothing moves, nothing is answered twice.
    expect(await h.deliverGroup(m.map((e, i) => matched(e, eventIds[i])))).toEqual(m.map(() => 'duplicate'));
    expect(await h.deliverGroup(m.map((e) => matched(e)))).toEqual(m.map(() => 'applied'));
    await h.deliver('order.matched', m[0]!);
    await h.deliver('order.matched', m[1]!);
    expect(await snapshot()).toEqual(after);
    expect((await verify(h)).ok).toBe(true);
  });

  it('when a group grows from 2 to 20 events, then its handler runs the same few statements (holds 4, matches 5)', async () => {
    const { bulkHandlers } = createEventHandlers(() => h.deps);
    async function statementsFor<T extends 'order.placed' | 'order.matched'>(type: T, payloads: EventPayload<T>[]): Promise<number> {
      const envelopes = payloads.map((payload) => ({ id: randomUUID(), type, occurredAt: new Date().toISOString(), payload }) as EventEnvelope<T>);
      let statements = 0;
      await h.runtime.db.transaction(async (tx) => {
        const counting: Tx = {
          query: <R>(sql: string, params?: unknown[]) => {
            statements += 1;
            return tx.query<R>(sql, params);
          },
          queries: <R>(sent: Parameters<Tx['queries']>[0]) => {
            statements += sent.length;
            return tx.queries<R>(sent);
          },
          defer: (sql: string, params?: unknown[]) => {
            statements += 1;
            tx.defer(sql, params);
          },
          afterCommit: (effect) => tx.afterCommit(effect),
        };
        await (bulkHandlers[type] as (events: EventEnvelope<T>[], tx: Tx) => Promise<void>)(envelopes, counting);
      });
      return statements;
    }
    await fund(h, 'rt-seller', 'USDT', '1000');
    // Half of each group fits, half is not covered.
    const holds = (n: number) => Array.from({ length: n }, (_, i) => ({ orderId: randomUUID(), userId: 'rt-seller', side: 'SELL' as const, asset: 'USDT' as const, amount: i % 2 ? '1000000' : '1' }));
    const matches = (n: number) => Array.from({ length: n }, (_, i) => matchEvent({ sellerId: 'rt-seller', asset: 'USDT', price: '1.00', amount: i % 2 ? '1000000' : '1' }));

    expect(await statementsFor('order.placed', holds(2))).toBe(4);
    expect(await statementsFor('order.placed', holds(20))).toBe(4);
    expect(await statementsFor('order.matched', matches(2))).toBe(5);
    expect(await statementsFor('order.matched', matches(20))).toBe(5);
    // The parties of the created trades are marked active, by the trade insert itself.
    const inactive = await h.runtime.db.query(
      `SELECT p.user_id FROM trades t CROSS JOIN LATERAL (VALUES (t.buyer_id), (t.seller_id)) AS p(user_id)
       WHERE t.seller_id = 'rt-seller' AND NOT EXISTS (SELECT 1 FROM user_activity_hours a WHERE a.user_id = p.user_id)`,
    );
    expect(inactive).toEqual([]);
    expect(await h.runtime.db.query(`SELECT count(*)::int AS n FROM trades WHERE seller_id = 'rt-seller'`)).toEqual([{ n: 11 }]);
  });

  it('when post_journals waits for one account, then it holds none of the others yet, so a transaction holding that account can still take them: no lock cycle', async () => {
    await fund(h, 'lk-1', 'BTC', '1');
    await fund(h, 'lk-2', 'BTC', '1');
    const [low, high] = await h.runtime.db.query<{ id: string; owner_id: string }>(
      `SELECT id::text, owner_id FROM accounts WHERE kind = 'AVAILABLE' AND asset = 'BTC' AND owner_id IN ('lk-1', 'lk-2') ORDER BY id`,
    );
    const hold = (owner: string): Movement => {
      const orderId = randomUUID();
      return { id: journalId('hold', orderId), kind: 'HOLD', ref: orderId, legs: [available(owner, 'BTC', -10_000_000n), held(owner, orderId, 'BTC', 10_000_000n)] };
    };
    const blocker = await h.runtime.db.primary.connect();
    const poster = await h.runtime.db.primary.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE', [low!.id]);
      await poster.query('BEGIN');
      const pid: number = (await poster.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      // The first journal touches only the higher account: posting journal by journal would lock it before waiting.
      const posting = poster.query<{ outcomes: string[] }>('SELECT post_journals($1::jsonb) AS outcomes', [journalsJson([hold(high!.owner_id), hold(low!.owner_id)])]);
      await eventually(async () => (await h.runtime.db.query<{ wait: string | null }>('SELECT wait_event_type AS wait FROM pg_stat_activity WHERE pid = $1', [pid]))[0]?.wait === 'Lock');

      await expect(blocker.query('SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE NOWAIT', [high!.id])).resolves.toMatchObject({ rowCount: 1 });
      await blocker.query('COMMIT');
      expect((await posting).rows[0]!.outcomes).toEqual(['OK', 'OK']);
      await poster.query('COMMIT');
    } finally {
      // Destroyed, not returned: after a failure either may still be inside its transaction.
      blocker.release(true);
      poster.release(true);
    }
    expect(await balance(h, 'lk-1', 'BTC')).toMatchObject({ available: '0.90000000', held: '0.10000000' });
    expect(await balance(h, 'lk-2', 'BTC')).toMatchObject({ available: '0.90000000', held: '0.10000000' });
  });

  it('when two replicas apply overlapping groups of holds and matches at once, among single matches and cancels, then every event is answered once, nothing is negative, and the books balance', async () => {
    const replica = createTradeExecution(h.config, { logger: createLogger('trade-execution', 'silent') });
    const sellers = Array.from({ length: 4 }, (_, i) => `race-${i}`);
    const retrying = async (work: () => Promise<unknown>) => {
      // As the queue would: a release that found its hold changed under it runs again.
      for (let attempt = 1; ; attempt += 1) {
        try {
          return await work();
        } catch (error) {
          if (attempt >= 5) throw error;
        }
      }
    };
    try {
      for (const s of sellers) await fund(h, s, 'BTC', '1');
      // Wave 1: three claims of 0.4 per seller (two fit): holds from both replicas in opposite seller orders, matches alone.
      const orders = sellers.flatMap((userId) => [0, 1].map(() => ({ orderId: randomUUID(), userId })));
      const direct = sellers.map((s, i) => matchEvent({ sellerId: s, buyerId: sellers[(i + 1) % sellers.length], amount: '0.4' }));
      await Promise.all([
        deliverGroup(h.runtime, orders.filter((_, i) => i % 2 === 0).map((o) => placed(o.orderId, o.userId, 'BTC', '0.4'))),
        deliverGroup(replica.runtime, orders.filter((_, i) => i % 2 === 1).reverse().map((o) => placed(o.orderId, o.userId, 'BTC', '0.4'))),
        ...direct.map((e) => h.deliver('order.matched', e)),
      ]);
      const wave1 = await answers([...orders.map((o) => o.orderId), ...direct.map((e) => e.tradeId)]);
      const answerTo = (ref: string) => wave1.events.filter(([type, p]) => (p.orderId ?? p.tradeId) === ref && type !== 'trade.payment-deadline').map(([type]) => type).join();
      for (const s of sellers) {
        const claims = [...orders.filter((o) => o.userId === s).map((o) => answerTo(o.orderId)), answerTo(direct.find((e) => e.sellerId === s)!.tradeId)];
        expect(claims.filter((a) => a === 'hold.placed' || a === 'trade.created')).toHaveLength(2);
        expect(claims.filter((a) => a === 'hold.rejected' || a === 'match.rejected')).toHaveLength(1);
      }

      // Wave 2: two matches of 0.25 from every placed hold (one fits), from both replicas, while the holds are cancelled alone.
      const placedHolds = orders.filter((o) => answerTo(o.orderId) === 'hold.placed');
      const fromHolds = placedHolds.flatMap((o) => [0, 1].map(() => matchEvent({ sellerId: o.userId, sellOrderId: o.orderId, sellerFunding: 'HOLD', amount: '0.25' })));
      await Promise.all([
        deliverGroup(h.runtime, fromHolds.filter((_, i) => i % 2 === 0).map((e) => matched(e))),
        deliverGroup(replica.runtime, fromHolds.filter((_, i) => i % 2 === 1).reverse().map((e) => matched(e))),
        ...placedHolds.map((o) => retrying(() => h.deliver('order.cancelled', { orderId: o.orderId, userId: o.userId, side: 'SELL', asset: 'BTC', remaining: '0.4' }))),
      ]);
      const wave2 = await answers(fromHolds.map((e) => e.tradeId));
      for (const e of fromHolds) {
        const answered = wave2.events.filter(([type, p]) => p.tradeId === e.tradeId && type !== 'trade.payment-deadline').map(([type]) => type);
        expect(['trade.created', 'match.rejected']).toContain(answered.join());
      }
      for (const s of sellers) {
        const b = await balance(h, s, 'BTC');
        expect(BigInt(b.available.replace('.', '')) + BigInt(b.held.replace('.', '')) + BigInt(b.inEscrow.replace('.', ''))).toBe(100_000_000n);
        expect(b.held).toBe('0.00000000');
      }
      expect(await verify(h)).toMatchObject({ ok: true });
    } finally {
      await replica.runtime.close();
    }
  });
});
