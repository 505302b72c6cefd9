import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { Database, type SqlRunner } from '@orrange/db';
import { createLogger } from '@orrange/logger';
import { createTestDatabase, createTestRedis, eventually, type TestDatabase, type TestRedis } from '@orrange/testing';
import {
  createRedis,
  enqueueEvent,
  enqueueEvents,
  EventConsumer,
  OUTBOX_TABLES_SQL,
  OutboxRelay,
  outgoing,
  PermanentFailure,
  queueName,
} from '../src';

const logger = createLogger('queue-test', 'silent');

describe('outbox → BullMQ → idempotent consumer (real Postgres and Redis)', () => {
  let testDb: TestDatabase;
  let testRedis: TestRedis;
  let db: Database;
  let connection: Redis;
  const closers: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    testDb = await createTestDatabase();
    testRedis = await createTestRedis();
    db = new Database({ url: testDb.url, name: 'queue-test', schema: 'svc', healthIntervalMs: 0 });
    await db.query('CREATE SCHEMA svc');
    await db.query(OUTBOX_TABLES_SQL);
    // What the sample handler writes: one row per trade (a second assignment of a trade violates its key).
    await db.query('CREATE TABLE assignments (trade_id text PRIMARY KEY, arbitrator_id text NOT NULL)');
    connection = createRedis(testRedis.url);
  });

  afterEach(async () => {
    while (closers.length) await closers.pop()!();
    await db.query('TRUNCATE outbox, inbox, assignments');
  });

  afterAll(async () => {
    connection.disconnect();
    await db.close();
    await testRedis.cleanup();
    await testDb.drop();
  });

  const prefix = () => `${testRedis.prefix}-${randomUUID().slice(0, 8)}`;

  function consumer(p: string, options: Partial<ConstructorParameters<typeof EventConsumer>[0]> = {}) {
    const c = new EventConsumer({
      service: 'trade-execution',
      db,
      connection,
      prefix: p,
      logger,
      handlers: {
        'dispute.assigned': async (event, tx) => {
          await tx.query('INSERT INTO assignments (trade_id, arbitrator_id) VALUES ($1, $2)', [
            event.payload.tradeId,
            event.payload.arbitratorId,
          ]);
        },
      },
      ...options,
    });
    closers.push(() => c.close());
    return c;
  }

  /** A sample event routed to trade-execution (the consumer above), written in a transaction of its own. */
  const assigned = (tradeId: string, arbitratorId = 'arb-1') => ({ disputeId: `d-${tradeId}`, tradeId, arbitratorId });

  async function assign(tradeId: string) {
    await db.transaction((tx) => enqueueEvent(tx, 'dispute.assigned', assigned(tradeId)));
  }

  it('when a transaction that wrote an event rolls back, then nothing is published', async () => {
    await expect(
      db.transaction(async (tx) => {
        await enqueueEvent(tx, 'dispute.assigned', assigned('t-rollback'));
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await db.query('SELECT * FROM outbox')).toEqual([]);
  });

  it('when an event payload is malformed, then it is refused before reaching the outbox', async () => {
    await expect(
      db.transaction((tx) =>
        enqueueEvent(tx, 'dispute.assigned', { disputeId: 'd', tradeId: 't', arbitratorId: '' } as never),
      ),
    ).rejects.toThrow();
  });

  it('when many events are enqueued in one statement, then they keep their order, a known id is skipped, and one bad payload writes none', async () => {
    const event = (tradeId: string, options?: { id: string }) =>
      outgoing('dispute.assigned', assigned(tradeId), options);
    const known = randomUUID();
    await db.transaction((tx) => enqueueEvent(tx, 'dispute.assigned', assigned('first'), { id: known }));
    await db.transaction((tx) => enqueueEvents(tx, [event('a'), event('again', { id: known }), event('b')]));
    expect(await db.query(`SELECT payload->>'tradeId' AS t FROM outbox ORDER BY seq`)).toEqual([
      { t: 'first' },
      { t: 'a' },
      { t: 'b' },
    ]);
    await expect(
      db.transaction((tx) => enqueueEvents(tx, [event('c'), outgoing('dispute.assigned', { tradeId: 't' } as never)])),
    ).rejects.toThrow();
    expect(await db.query(`SELECT count(*)::int AS n FROM outbox WHERE payload->>'tradeId' = 'c'`)).toEqual([{ n: 0 }]);
  });

  it('when events are committed, then the relay publishes them and the consumer applies each once', async () => {
    const p = prefix();
    const relay = new OutboxRelay({ db, connection, prefix: p, logger, pollIntervalMs: 20, registry: new Registry() });
    closers.push(() => relay.stop());
    consumer(p).start();
    relay.start();
    for (let i = 0; i < 20; i++) await assign(`t-${i}`);
    relay.kick();
    await eventually(async () => (await db.query('SELECT count(*)::int AS n FROM assignments'))[0]!.n === 20);
    // Marked by the relay's next claim, at its next poll at the latest.
    await eventually(
      async () =>
        (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL'))[0]!.n === 0,
    );
  });

  it('when a relay dies after publishing but before marking rows, then a re-publish has no duplicate effect', async () => {
    const p = prefix();
    await assign('t-crash');
    // Simulate the crash: publish (as the relay does), then roll back the marking transaction.
    const [row] = await db.query<{ id: string; type: string; payload: unknown; occurred_at: Date }>(
      'SELECT id, type, payload, occurred_at FROM outbox',
    );
    const queue = new Queue(queueName('trade-execution'), { connection, prefix: p });
    closers.push(() => queue.close());
    await queue.add(
      row!.type,
      { id: row!.id, type: row!.type, occurredAt: row!.occurred_at.toISOString(), payload: row!.payload },
      { jobId: row!.id },
    );
    consumer(p).start();
    await eventually(async () => (await db.query('SELECT count(*)::int AS n FROM assignments'))[0]!.n === 1);

    // A restarted relay finds the row unpublished and publishes it again.
    const relay = new OutboxRelay({ db, connection, prefix: p, logger });
    expect(await relay.drain()).toBe(1);
    await relay.stop();
    await new Promise((r) => setTimeout(r, 300));
    expect(await db.query('SELECT trade_id FROM assignments')).toEqual([{ trade_id: 't-crash' }]);
  });

  it('when the same event is delivered twice, then the second delivery is a duplicate and changes nothing', async () => {
    const c = consumer(prefix());
    const envelope = {
      id: randomUUID(),
      type: 'dispute.assigned',
      occurredAt: new Date().toISOString(),
      payload: assigned('t-dup'),
    };
    expect(await c.apply(envelope)).toBe('applied');
    expect(await c.apply(envelope)).toBe('duplicate');
    expect(await db.query('SELECT count(*)::int AS n FROM assignments')).toEqual([{ n: 1 }]);
  });

  it("when the consumer is given another client's transaction, then the inbox row and the handler's writes go through it, and a failing handler leaves neither", async () => {
    // A transaction of another shape than Tx (as a Prisma one is), made here over the Database's.
    interface TaggedTx extends SqlRunner {
      run: number;
    }
    let runs = 0;
    const c = new EventConsumer<TaggedTx>({
      service: 'trade-execution',
      db,
      connection,
      prefix: prefix(),
      logger,
      transaction: (body, options) =>
        db.transaction((tx) => body({ query: (sql, params) => tx.query(sql, params), run: ++runs }), options),
      handlers: {
        'dispute.assigned': async (event, tx) => {
          await tx.query('INSERT INTO assignments (trade_id, arbitrator_id) VALUES ($1, $2)', [
            event.payload.tradeId,
            `${event.payload.arbitratorId} in run ${tx.run}`,
          ]);
          if (event.payload.arbitratorId === 'refused') throw new Error('refused after writing');
        },
      },
    });
    closers.push(() => c.close());
    const envelope = (tradeId: string, arbitratorId: string) => ({
      id: randomUUID(),
      type: 'dispute.assigned',
      occurredAt: new Date().toISOString(),
      payload: assigned(tradeId, arbitratorId),
    });
    expect(await c.apply(envelope('t-own', 'arb-1'))).toBe('applied');
    await expect(c.apply(envelope('t-refused', 'refused'))).rejects.toThrow('refused after writing');
    expect(await db.query('SELECT trade_id, arbitrator_id FROM assignments')).toEqual([
      { trade_id: 't-own', arbitrator_id: 'arb-1 in run 1' },
    ]);
    expect(await db.query('SELECT count(*)::int AS n FROM inbox')).toEqual([{ n: 1 }]);
  });

  it('when grouped events arrive together, then each is applied once with its inbox row, duplicates change nothing, and a failing event fails only its group', async () => {
    const c = consumer(prefix(), { batchKey: () => 'all' });
    const envelope = (tradeId: string) => ({
      id: randomUUID(),
      type: 'dispute.assigned',
      occurredAt: new Date().toISOString(),
      payload: assigned(tradeId),
    });
    const first = envelope('t-g1');
    const many = [first, envelope('t-g2'), first, envelope('t-g3')];
    expect(await Promise.all(many.map((e) => c.apply(e, false)))).toEqual([
      'applied',
      'applied',
      'duplicate',
      'applied',
    ]);
    expect(await db.query('SELECT trade_id FROM assignments ORDER BY trade_id')).toEqual([
      { trade_id: 't-g1' },
      { trade_id: 't-g2' },
      { trade_id: 't-g3' },
    ]);
    expect(await c.apply(first, false)).toBe('duplicate');

    // t-g1 again under a new event id violates the primary key: its whole group rolls back, inbox rows included.
    const good = envelope('t-g4');
    const bad = envelope('t-g1');
    const outcomes = await Promise.allSettled([
      c.apply(envelope('t-g0'), false),
      c.apply(good, false),
      c.apply(bad, false),
    ]);
    expect(outcomes[0]!.status).toBe('fulfilled');
    expect(outcomes.slice(1).map((o) => o.status)).toEqual(['rejected', 'rejected']);
    expect(await db.query('SELECT count(*)::int AS n FROM assignments WHERE trade_id = $1', ['t-g4'])).toEqual([
      { n: 0 },
    ]);
    // Retried alone, the good one is applied and the bad one keeps failing on its own.
    expect(await c.apply(good)).toBe('applied');
    await expect(c.apply(bad)).rejects.toThrow();
    expect(await db.query('SELECT count(*)::int AS n FROM inbox')).toEqual([{ n: 5 }]);
  });

  it('when grouped events have a bulk handler, then it gets each fresh event once (whatever the case of its id), in arrival order, in one call per run of its type', async () => {
    const calls: string[][] = [];
    const c = consumer(prefix(), {
      batchKey: () => 'all',
      bulkHandlers: {
        'dispute.assigned': async (events, tx) => {
          calls.push(events.map((e) => e.payload.tradeId));
          await tx.query(
            'INSERT INTO assignments (trade_id, arbitrator_id) SELECT * FROM unnest($1::text[], $2::text[])',
            [events.map((e) => e.payload.tradeId), events.map((e) => e.payload.arbitratorId)],
          );
        },
      },
    });
    const envelope = (tradeId: string) => ({
      id: randomUUID(),
      type: 'dispute.assigned',
      occurredAt: new Date().toISOString(),
      payload: assigned(tradeId),
    });
    const already = envelope('b-0');
    expect(await c.apply(already)).toBe('applied');
    const twice = envelope('b-2');
    const shouting = { ...envelope('b-3'), id: randomUUID().toUpperCase() };
    // The first apply runs alone; the rest arrive while it runs and form one group.
    const outcomes = await Promise.all(
      [envelope('b-1'), already, twice, shouting, twice].map((e) => c.apply(e, false)),
    );
    expect(outcomes).toEqual(['applied', 'duplicate', 'applied', 'applied', 'duplicate']);
    expect(calls).toEqual([['b-0'], ['b-1'], ['b-2', 'b-3']]);
    expect(await db.query('SELECT count(*)::int AS n FROM inbox')).toEqual([{ n: 4 }]);
  });

  it('when an event is malformed, then it fails without retries and changes nothing', async () => {
    const c = consumer(prefix());
    await expect(
      c.apply({ id: randomUUID(), type: 'dispute.assigned', occurredAt: 'x', payload: { tradeId: 1 } }),
    ).rejects.toThrow(/malformed/);
    await expect(c.apply({ nonsense: true })).rejects.toThrow(/malformed/);
    expect(await db.query('SELECT count(*)::int AS n FROM assignments')).toEqual([{ n: 0 }]);
  });

  it('when a handler throws PermanentFailure, then its job is failed after one attempt, while one that throws another error is retried', async () => {
    const p = prefix();
    const attempts = new Map<string, number>();
    consumer(p, {
      handlers: {
        'dispute.assigned': async (event) => {
          const tradeId = event.payload.tradeId;
          attempts.set(tradeId, (attempts.get(tradeId) ?? 0) + 1);
          // Domain code says "never" without knowing the queue library; the consumer tells BullMQ.
          if (tradeId === 't-never') throw new PermanentFailure('this event can never be applied');
          if (attempts.get(tradeId)! < 2) throw new Error('not yet');
        },
      },
    }).start();
    const relay = new OutboxRelay({ db, connection, prefix: p, logger, pollIntervalMs: 20 });
    const queue = new Queue(queueName('trade-execution'), { connection, prefix: p });
    closers.push(
      () => queue.close(),
      () => relay.stop(),
    );
    relay.start();
    const never = await db.transaction((tx) => enqueueEvent(tx, 'dispute.assigned', assigned('t-never')));
    await assign('t-later');
    relay.kick();
    await eventually(async () => attempts.get('t-later') === 2 && (await queue.getFailedCount()) === 1, {
      timeoutMs: 10_000,
    });
    const [failed] = await queue.getFailed();
    expect(failed).toMatchObject({ id: never, attemptsMade: 1, failedReason: 'this event can never be applied' });
    expect(attempts.get('t-never')).toBe(1);
    expect(await db.query('SELECT count(*)::int AS n FROM inbox WHERE event_id = $1', [never])).toEqual([{ n: 0 }]);
  });

  it('when a consumer dies mid-job, then the job is redelivered and applied once', async () => {
    const p = prefix();
    let release!: () => void;
    const blocked = new Promise<void>((resolve) => (release = resolve));
    let started = 0;
    // The first worker hangs inside its handler, holding an open transaction, until its process "dies":
    // the worker stops and Postgres drops its connection, which rolls the transaction back.
    const dyingDb = new Database({
      url: testDb.url,
      name: 'dying-consumer',
      schema: 'svc',
      healthIntervalMs: 0,
      retry: { attemptsMax: 1 },
    });
    closers.push(() => dyingDb.close());
    const dying = consumer(p, {
      db: dyingDb,
      lockDurationMs: 300,
      stalledIntervalMs: 200,
      handlers: {
        'dispute.assigned': async () => {
          started++;
          await blocked;
          throw new Error('process died');
        },
      },
    });
    dying.start();
    const relay = new OutboxRelay({ db, connection, prefix: p, logger, pollIntervalMs: 20 });
    closers.push(() => relay.stop());
    relay.start();
    await assign('t-stalled');
    relay.kick();
    await eventually(async () => started === 1);
    // Kill it: close the worker without letting the job finish (its lock then expires).
    await (dying as unknown as { worker: { close(force: boolean): Promise<void> } }).worker.close(true);
    await db.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'dying-consumer'`);
    consumer(p, { lockDurationMs: 300, stalledIntervalMs: 200 }).start();
    try {
      await eventually(async () => (await db.query('SELECT count(*)::int AS n FROM assignments'))[0]!.n === 1, {
        timeoutMs: 15_000,
      });
    } finally {
      release();
    }
    await new Promise((r) => setTimeout(r, 500));
    expect(await db.query('SELECT trade_id FROM assignments')).toEqual([{ trade_id: 't-stalled' }]);
  });

  it('when a timer event has deliverAt in the future, then it is delivered no earlier', async () => {
    const p = prefix();
    const seen: number[] = [];
    consumer(p, {
      service: 'dispute',
      handlers: { 'dispute.deadline': async () => void seen.push(Date.now()) },
    }).start();
    const relay = new OutboxRelay({ db, connection, prefix: p, logger, pollIntervalMs: 20 });
    closers.push(() => relay.stop());
    relay.start();
    const at = Date.now() + 400;
    await db.transaction((tx) =>
      enqueueEvent(tx, 'dispute.deadline', { disputeId: 'd1', kind: 'ASSIGNMENT' }, { deliverAt: new Date(at) }),
    );
    relay.kick();
    await eventually(async () => seen.length === 1);
    expect(seen[0]).toBeGreaterThanOrEqual(at - 5);
  });

  it('when two relays run at once, then each row is published once', async () => {
    const p = prefix();
    for (let i = 0; i < 50; i++) await assign(`t-pair-${i}`);
    const a = new OutboxRelay({ db, connection, prefix: p, logger, batchSize: 5 });
    const b = new OutboxRelay({ db, connection, prefix: p, logger, batchSize: 5 });
    const [ma, mb] = await Promise.all([a.drain(), b.drain()]);
    await Promise.all([a.stop(), b.stop()]);
    expect(ma + mb).toBe(50);
    const queue = new Queue(queueName('trade-execution'), { connection, prefix: p });
    closers.push(() => queue.close());
    expect(await queue.getWaitingCount()).toBe(50);
  });
  describe('claims', () => {
    const unpublished = async () =>
      (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL'))[0]!.n;
    const waiting = async (p: string) => {
      const queue = new Queue(queueName('trade-execution'), { connection, prefix: p });
      closers.push(() => queue.close());
      return queue.getWaitingCount();
    };

    it('when a relay drains, then every row is published once, marked, and holds no claim', async () => {
      const p = prefix();
      for (let i = 0; i < 7; i++) await assign(`t-claim-${i}`);
      const relay = new OutboxRelay({ db, connection, prefix: p, logger, batchSize: 3 });
      expect(await relay.drain()).toBe(7);
      await relay.stop();
      expect(
        await db.query('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL OR claimed_until IS NOT NULL'),
      ).toEqual([{ n: 0 }]);
      expect(await waiting(p)).toBe(7);
    });

    it('when another relay holds a claim on rows, then they are not published again until the claim lapses', async () => {
      const p = prefix();
      await assign('t-claimed');
      await assign('t-free');
      // As left by a relay that died after claiming: claimed, unpublished.
      await db.query(
        `UPDATE outbox SET claimed_until = now() + interval '400 milliseconds' WHERE payload->>'tradeId' = 't-claimed'`,
      );
      const relay = new OutboxRelay({ db, connection, prefix: p, logger });
      closers.push(() => relay.stop());
      expect(await relay.drain()).toBe(1);
      expect(await unpublished()).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await relay.drain()).toBe(1);
      expect(await unpublished()).toBe(0);
      expect(await waiting(p)).toBe(2);
    });

    it('when publishing to Redis fails, then the claim is given back at once and a healthy relay publishes the rows right away', async () => {
      const p = prefix();
      await assign('t-redis-down');
      // Nothing listens on port 1: every command fails at once.
      const down = createRedis('redis://127.0.0.1:1', {
        maxRetriesPerRequest: 0,
        enableOfflineQueue: false,
        retryStrategy: () => null,
        lazyConnect: true,
      });
      down.on('error', () => undefined);
      const failing = new OutboxRelay({ db, connection: down, prefix: p, logger });
      await expect(failing.drain()).rejects.toThrow();
      await failing.stop().catch(() => undefined);
      down.disconnect();
      expect(await db.query('SELECT count(*)::int AS n FROM outbox WHERE claimed_until IS NOT NULL')).toEqual([
        { n: 0 },
      ]);
      const healthy = new OutboxRelay({ db, connection, prefix: p, logger });
      closers.push(() => healthy.stop());
      expect(await healthy.drain()).toBe(1);
      expect(await waiting(p)).toBe(1);
    });

    it('when several transactions commit within the linger after a kick, then one claim publishes them all', async () => {
      const p = prefix();
      const claimedSizes: number[] = [];
      const watched = Object.assign(Object.create(db) as Database, {
        queryPrepared: async <R>(name: string, sql: string, params?: unknown[]) => {
          const rows = await db.queryPrepared<R>(name, sql, params);
          if (name === 'outbox-claim' && rows.length > 0) claimedSizes.push(rows.length);
          return rows;
        },
      });
      const relay = new OutboxRelay({
        db: watched,
        connection,
        prefix: p,
        logger,
        pollIntervalMs: 60_000,
        lingerMs: 200,
      });
      closers.push(() => relay.stop());
      relay.start();
      await new Promise((resolve) => setTimeout(resolve, 50)); // asleep after its first, empty claim
      for (let i = 0; i < 5; i++) {
        await assign(`t-linger-${i}`);
        relay.kick();
      }
      await eventually(async () => (await waiting(p)) === 5);
      expect(claimedSizes).toEqual([5]);
    });

    it('when a running relay goes idle, then its next poll marks what it published', async () => {
      const p = prefix();
      const relay = new OutboxRelay({ db, connection, prefix: p, logger, pollIntervalMs: 300 });
      closers.push(() => relay.stop());
      relay.start();
      for (let i = 0; i < 5; i++) await assign(`t-idle-${i}`);
      relay.kick();
      await eventually(async () => (await waiting(p)) === 5);
      await eventually(async () => (await unpublished()) === 0);
      expect(await db.query('SELECT count(*)::int AS n FROM outbox WHERE claimed_until IS NOT NULL')).toEqual([
        { n: 0 },
      ]);
    });
  });
});
