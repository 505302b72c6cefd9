import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { Database } from '@orrange/db';
import { createLogger } from '@orrange/logger';
import { createTestDatabase, eventually, PrivateRedisServer, type TestDatabase } from '@orrange/testing';
import type { Tx } from '@orrange/db';
import {
  createRedis,
  enqueueEvent,
  EVENT_ROUTES,
  EventConsumer,
  inboxConfirmedFunctionSql,
  OUTBOX_TABLES_SQL,
  OutboxRedelivery,
  OutboxRelay,
  queueName,
  SERVICE_SCHEMAS,
  type EventHandlers,
  type EventPayload,
} from '../src';

const logger = createLogger('queue-test', 'silent');
/** Short enough for a test, and the sweep interval follows it (a sixth: 50 ms). */
const BOUND_MS = 300;
const EVENTS = 20;

/**
 * Redis as a transport that may drop what it was given: a private redis-server killed with SIGKILL and started
 * again empty, or flushed, after the relay marked events published. The producer (schema "trade") asks its
 * consumers (schemas "users" and "dispute", each with its inbox and inbox_confirmed) and publishes again what
 * they have not recorded; each event is applied once.
 */
describe('redelivery of events their consumers have not confirmed (real Postgres, a private Redis killed and flushed)', () => {
  let testDb: TestDatabase;
  let redisServer: PrivateRedisServer;
  let connection: Redis;
  const dbs = {} as Record<'trade' | 'users' | 'dispute', Database>;
  const closers: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    testDb = await createTestDatabase();
    redisServer = await PrivateRedisServer.start();
    for (const schema of ['trade', 'users', 'dispute'] as const) {
      const db = new Database({ url: testDb.url, name: `queue-test-${schema}`, schema, healthIntervalMs: 0 });
      await db.query(`CREATE SCHEMA ${schema}`);
      await db.query(OUTBOX_TABLES_SQL);
      await db.query(inboxConfirmedFunctionSql(schema));
      await db.query('CREATE TABLE applied (event_id uuid NOT NULL, trade_id text NOT NULL)');
      dbs[schema] = db;
    }
    connection = createRedis(redisServer.url);
    connection.on('error', () => undefined);
  });

  afterEach(async () => {
    while (closers.length) await closers.pop()!();
    for (const db of Object.values(dbs)) await db.query('TRUNCATE outbox, inbox, applied');
  });

  afterAll(async () => {
    connection.disconnect();
    for (const db of Object.values(dbs)) await db.close();
    await redisServer.stop();
    await testDb.drop();
  });

  const newPrefix = () => `redelivery-${randomUUID().slice(0, 8)}`;

  /** Records each trade event it applies; a second application of one event would show as a second row. */
  function consumer(prefix: string, service: 'user' | 'dispute', handlers?: EventHandlers) {
    const db = service === 'user' ? dbs.users : dbs.dispute;
    const record = async (event: { id: string; payload: { tradeId: string } }, tx: Tx) => {
      await tx.query('INSERT INTO applied (event_id, trade_id) VALUES ($1, $2)', [event.id, event.payload.tradeId]);
    };
    const c = new EventConsumer({
      service,
      db,
      connection,
      prefix,
      logger,
      handlers: handlers ?? { 'trade.completed': record, 'trade.resolved': record, 'trade.disputed': record },
    });
    closers.push(() => c.close());
    c.start();
    return c;
  }

  function relay(prefix: string) {
    const r = new OutboxRelay({ db: dbs.trade, connection, prefix, logger, pollIntervalMs: 20 });
    closers.push(() => r.stop());
    return r;
  }

  function redelivery(r: OutboxRelay, registry = new Registry()) {
    return {
      sweeper: new OutboxRedelivery({ db: dbs.trade, relay: r, logger, registry, redeliverAfterMs: BOUND_MS }),
      registry,
    };
  }

  const completed = (tradeId: string): EventPayload<'trade.completed'> => ({
    tradeId,
    buyerId: 'b1',
    sellerId: 's1',
    asset: 'BTC',
    amount: '0.1',
    fiatCurrency: 'USD',
    fiatAmount: '3000.00',
    completedAt: new Date().toISOString(),
  });

  async function produce(n: number, type: 'trade.completed' = 'trade.completed'): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++)
      ids.push(await dbs.trade.transaction((tx) => enqueueEvent(tx, type, completed(`t-${randomUUID().slice(0, 8)}`))));
    return ids;
  }

  const appliedCounts = async (schema: 'users' | 'dispute') =>
    dbs[schema].query<{ event_id: string; n: number }>(
      'SELECT event_id::text, count(*)::int AS n FROM applied GROUP BY event_id',
    );
  const republished = async (registry: Registry) =>
    (await registry.getSingleMetric('events_republished_total')!.get()).values;
  const waitPastBound = () => new Promise((resolve) => setTimeout(resolve, BOUND_MS + 50));
  const outboxState = () =>
    dbs.trade.query<{ confirmed: number; unconfirmed: number; redelivered: number }>(
      `SELECT count(*) FILTER (WHERE confirmed_at IS NOT NULL)::int AS confirmed, count(*) FILTER (WHERE confirmed_at IS NULL)::int AS unconfirmed,
            count(*) FILTER (WHERE redeliveries > 0)::int AS redelivered FROM outbox`,
    );

  /** Sweeps until every row is confirmed (re-checks come a sweep interval after a re-publish). */
  async function sweepUntilConfirmed(sweeper: OutboxRedelivery) {
    await eventually(
      async () => {
        await sweeper.sweep();
        return (await outboxState())[0]!.unconfirmed === 0;
      },
      { timeoutMs: 15_000, intervalMs: 60 },
    );
  }

  it.each([
    ['killed with SIGKILL and started again empty', () => redisServer.crashAndRestartEmpty()],
    ['flushed (FLUSHALL)', () => redisServer.flushAll()],
  ])(
    'when Redis is %s after the relay published, then every event is published again past the bound and applied once',
    async (_name, lose) => {
      const prefix = newPrefix();
      const r = relay(prefix);
      const ids = await produce(EVENTS);
      expect(await r.drain()).toBe(EVENTS);
      // Published and marked: the old relay stopped here for good.
      expect(await dbs.trade.query('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL')).toEqual([
        { n: 0 },
      ]);
      await lose();
      await eventually(async () => (await connection.ping()) === 'PONG');
      consumer(prefix, 'user');
      const { sweeper, registry } = redelivery(r);

      expect(await sweeper.sweep()).toBe(0); // not past the bound yet: nothing is asked or sent
      await waitPastBound();
      expect(await sweeper.sweep()).toBe(EVENTS);
      expect(await republished(registry)).toEqual([
        { labels: { type: 'trade.completed', consumer: 'user' }, value: EVENTS },
      ]);
      expect(await sweeper.unconfirmedBacklog()).toBe(EVENTS);

      await eventually(async () => (await appliedCounts('users')).length === EVENTS);
      await sweepUntilConfirmed(sweeper);
      expect(await sweeper.unconfirmedBacklog()).toBe(0);
      expect((await appliedCounts('users')).map((r) => r.n)).toEqual(Array(EVENTS).fill(1));
      expect((await appliedCounts('users')).map((r) => r.event_id).sort()).toEqual([...ids].sort());
      expect(await outboxState()).toEqual([{ confirmed: EVENTS, unconfirmed: 0, redelivered: EVENTS }]);
      // Confirmed rows are never looked at again, and nothing was published twice.
      await waitPastBound();
      expect(await sweeper.sweep()).toBe(0);
      expect((await republished(registry))[0]!.value).toBe(EVENTS);
    },
  );

  it('when some events were consumed before Redis lost the rest, then only the lost ones are published again, each once', async () => {
    const prefix = newPrefix();
    const r = relay(prefix);
    const first = consumer(prefix, 'user');
    const consumed = await produce(5);
    await r.drain();
    await eventually(async () => (await appliedCounts('users')).length === 5);
    await first.close();
    const lost = await produce(7);
    await r.drain();
    await redisServer.crashAndRestartEmpty();
    consumer(prefix, 'user');
    const { sweeper, registry } = redelivery(r);
    await waitPastBound();
    expect(await sweeper.sweep()).toBe(12);
    expect((await republished(registry))[0]!.value).toBe(7);
    await eventually(async () => (await appliedCounts('users')).length === 12);
    await sweepUntilConfirmed(sweeper);
    const counts = await appliedCounts('users');
    expect(counts.map((c) => c.n)).toEqual(Array(12).fill(1));
    expect(counts.map((c) => c.event_id).sort()).toEqual([...consumed, ...lost].sort());
    expect(
      (await dbs.trade.query<{ id: string }>('SELECT id::text FROM outbox WHERE redeliveries > 0'))
        .map((r) => r.id)
        .sort(),
    ).toEqual([...lost].sort());
  });

  it('when an event has two consumers and one has it, then it is published again to the other alone', async () => {
    const prefix = newPrefix();
    const r = relay(prefix);
    const userConsumer = consumer(prefix, 'user');
    const [id] = [
      await dbs.trade.transaction((tx) =>
        enqueueEvent(tx, 'trade.resolved', {
          tradeId: 't-split',
          disputeId: 'd-split',
          outcome: 'REFUND_SELLER',
          buyerId: 'b1',
          sellerId: 's1',
          buyerAmount: '0',
          sellerAmount: '0.1',
        }),
      ),
    ];
    await r.drain();
    await eventually(async () => (await appliedCounts('users')).length === 1);
    await userConsumer.close();
    const { sweeper, registry } = redelivery(r);
    await waitPastBound();
    expect(await sweeper.sweep()).toBe(1);
    expect(await republished(registry)).toEqual([
      { labels: { type: 'trade.resolved', consumer: 'dispute' }, value: 1 },
    ]);
    consumer(prefix, 'dispute');
    await eventually(async () => (await appliedCounts('dispute')).length === 1);
    await sweepUntilConfirmed(sweeper);
    expect(await appliedCounts('users')).toEqual([{ event_id: id, n: 1 }]);
    expect(await appliedCounts('dispute')).toEqual([{ event_id: id, n: 1 }]);
  });

  it('when an event has no consumer, then it is confirmed when published and never swept', async () => {
    const prefix = newPrefix();
    const r = relay(prefix);
    await dbs.trade.transaction((tx) =>
      enqueueEvent(tx, 'trade.created', {
        tradeId: 't-c',
        matchId: 'm-c',
        buyerId: 'b',
        sellerId: 's',
        asset: 'BTC',
        fiatCurrency: 'USD',
        amount: '0.1',
        price: '30000.00',
        fiatAmount: '3000.00',
      }),
    );
    await r.drain();
    expect(await outboxState()).toEqual([{ confirmed: 1, unconfirmed: 0, redelivered: 0 }]);
    const { sweeper } = redelivery(r);
    await waitPastBound();
    expect(await sweeper.sweep()).toBe(0);
  });

  it('when a consumer gets an event it has no handler for, then its inbox records it, so the producer counts it delivered', async () => {
    const prefix = newPrefix();
    const r = relay(prefix);
    const user = consumer(prefix, 'user', { 'trade.completed': async () => undefined });
    const [id] = [
      await dbs.trade.transaction((tx) =>
        enqueueEvent(tx, 'trade.cancelled', { tradeId: 't-x', buyerId: 'b', sellerId: 's', reason: 'BUYER_CANCELLED' }),
      ),
    ];
    await r.drain();
    await eventually(async () => (await dbs.users.query('SELECT 1 FROM inbox WHERE event_id = $1', [id])).length === 1);
    expect(
      await user.apply({
        id,
        type: 'trade.cancelled',
        occurredAt: new Date().toISOString(),
        payload: { tradeId: 't-x', buyerId: 'b', sellerId: 's', reason: 'BUYER_CANCELLED' },
      }),
    ).toBe('ignored');
    const { sweeper, registry } = redelivery(r);
    await waitPastBound();
    expect(await sweeper.sweep()).toBe(1);
    expect(await republished(registry)).toEqual([]);
    expect(await outboxState()).toEqual([{ confirmed: 1, unconfirmed: 0, redelivered: 0 }]);
  });

  it('when nobody consumes an unconfirmed event, then it is published again at growing intervals, counted unconfirmed, and confirmed once it is applied', async () => {
    const prefix = newPrefix();
    const r = relay(prefix);
    const [id] = await produce(1);
    await r.drain();
    await redisServer.flushAll();
    const { sweeper, registry } = redelivery(r);
    await waitPastBound();
    expect(await sweeper.sweep()).toBe(1);
    expect(await sweeper.sweep()).toBe(0); // re-checked a sweep interval later, not at once
    const recheckAt = async () =>
      (
        await dbs.trade.query<{ redeliveries: number; ms: number }>(
          `SELECT redeliveries, (extract(epoch FROM recheck_at - now()) * 1000)::int AS ms FROM outbox`,
        )
      )[0]!;
    expect((await recheckAt()).redeliveries).toBe(1);
    await eventually(async () => (await sweeper.sweep()) === 1, { timeoutMs: 2_000, intervalMs: 10 });
    const second = await recheckAt();
    expect(second.redeliveries).toBe(2);
    // The second re-check waits twice the sweep interval (50 ms → 100 ms), within what a statement takes.
    expect(second.ms).toBeGreaterThan(60);
    expect(second.ms).toBeLessThanOrEqual(100);
    expect(await sweeper.unconfirmedBacklog()).toBe(1);
    // BullMQ still holds the job (same id): the re-publish added nothing, and the consumer applies it once.
    const queue = new Queue(queueName('user'), { connection, prefix });
    closers.push(() => queue.close());
    expect(await queue.getJobCounts('waiting')).toEqual({ waiting: 1 });
    consumer(prefix, 'user');
    await eventually(async () => (await appliedCounts('users')).length === 1);
    await sweepUntilConfirmed(sweeper);
    expect(await appliedCounts('users')).toEqual([{ event_id: id, n: 1 }]);
    expect(await sweeper.unconfirmedBacklog()).toBe(0);
    expect((await republished(registry))[0]!.value).toBeGreaterThanOrEqual(2);
  });

  it('when a consumer cannot answer (its function is missing), then its events are published again, and confirmed once it answers', async () => {
    const prefix = newPrefix();
    const r = relay(prefix);
    consumer(prefix, 'dispute');
    await dbs.dispute.query('DROP FUNCTION dispute.inbox_confirmed(uuid[])');
    try {
      await dbs.trade.transaction((tx) =>
        enqueueEvent(tx, 'trade.disputed', {
          tradeId: 't-d',
          disputeId: 'd-d',
          openedBy: 'b',
          reason: 'r',
          buyerId: 'b',
          sellerId: 's',
          asset: 'BTC',
          amount: '0.1',
          fiatCurrency: 'USD',
          fiatAmount: '3000.00',
        }),
      );
      await r.drain();
      await eventually(async () => (await appliedCounts('dispute')).length === 1);
      const { sweeper, registry } = redelivery(r);
      await waitPastBound();
      expect(await sweeper.sweep()).toBe(1);
      expect(await republished(registry)).toEqual([
        { labels: { type: 'trade.disputed', consumer: 'dispute' }, value: 1 },
      ]);
      expect(await sweeper.unconfirmedBacklog()).toBe(1);
    } finally {
      await dbs.dispute.query(inboxConfirmedFunctionSql('dispute'));
    }
    const { sweeper } = redelivery(r);
    await sweepUntilConfirmed(sweeper);
    expect(await appliedCounts('dispute')).toEqual([expect.objectContaining({ n: 1 })]);
  });

  it('when a timer event is due later, then it is not looked at before its deliver_at plus the bound', async () => {
    const prefix = newPrefix();
    const r = relay(prefix);
    const deliverAt = new Date(Date.now() + 2 * BOUND_MS);
    await dbs.trade.transaction((tx) => enqueueEvent(tx, 'trade.completed', completed('t-later'), { deliverAt }));
    await r.drain();
    const { sweeper } = redelivery(r);
    await waitPastBound();
    expect(await sweeper.sweep()).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, deliverAt.getTime() + BOUND_MS + 50 - Date.now()));
    expect(await sweeper.sweep()).toBe(1);
  });

  it('when two sweepers run at once, then each unconfirmed event is published again by one of them', async () => {
    const prefix = newPrefix();
    const r = relay(prefix);
    await produce(EVENTS);
    await r.drain();
    await redisServer.flushAll();
    const a = redelivery(r);
    const b = redelivery(r);
    await waitPastBound();
    const [swept1, swept2] = await Promise.all([a.sweeper.sweep(), b.sweeper.sweep()]);
    expect(swept1 + swept2).toBe(EVENTS);
    const total = async (x: { registry: Registry }) => (await republished(x.registry))[0]?.value ?? 0;
    expect((await total(a)) + (await total(b))).toBe(EVENTS);
  });

  it('when the relay prunes old rows, then it keeps the ones not confirmed yet', async () => {
    const prefix = newPrefix();
    await produce(2);
    await relay(prefix).drain();
    await dbs.trade.query(
      `UPDATE outbox SET confirmed_at = now() WHERE id = (SELECT id FROM outbox ORDER BY seq LIMIT 1)`,
    );
    const pruning = new OutboxRelay({ db: dbs.trade, connection, prefix, logger, retentionMs: 0, pollIntervalMs: 20 });
    pruning.start();
    await new Promise((resolve) => setTimeout(resolve, 100));
    await pruning.stop();
    expect(await outboxState()).toEqual([{ confirmed: 0, unconfirmed: 1, redelivered: 0 }]);
  });

  it('when an event type is routed, then each of its consumers has a schema the producer can ask', () => {
    for (const services of Object.values(EVENT_ROUTES))
      for (const service of services) expect(SERVICE_SCHEMAS[service]).toMatch(/^[a-z_]+$/);
  });
});
