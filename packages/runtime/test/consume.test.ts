import { baseServiceSchema, loadConfig } from '@orrange/config';
import { enqueueEvent, OUTBOX_TABLES_SQL, type OutboxRow } from '@orrange/queue';
import { createTestDatabase, createTestRedis, eventually, type TestDatabase, type TestRedis } from '@orrange/testing';
import { createRuntime, type Runtime } from '../src/runtime';

/**
 * A service builds its handlers from its runtime (database, live publisher, registry): consume() takes them once the
 * runtime exists, and the relay's listener is set the same way, so neither needs a runtime that is not built yet.
 */
describe('runtime: consume() and the relay listener, after the runtime exists', () => {
  let database: TestDatabase;
  let testRedis: TestRedis;
  let runtime: Runtime;

  beforeAll(async () => {
    database = await createTestDatabase();
    testRedis = await createTestRedis();
  });

  beforeEach(async () => {
    const config = loadConfig(baseServiceSchema, {
      DATABASE_URL: database.url,
      REDIS_URL: testRedis.url,
      REDIS_PREFIX: `${testRedis.prefix}-${Date.now()}`,
      LOG_LEVEL: 'silent',
      DB_HEALTH_INTERVAL_MS: '0',
    });
    runtime = createRuntime({ service: 'trade-execution', schema: 'svc', config, databaseAsOwner: true });
    await runtime.db.query('CREATE SCHEMA IF NOT EXISTS svc');
    await runtime.db.query('DROP TABLE IF EXISTS outbox, inbox, assignments');
    await runtime.db.query(OUTBOX_TABLES_SQL);
    await runtime.db.query('CREATE TABLE assignments (trade_id text PRIMARY KEY, arbitrator_id text NOT NULL)');
  });

  afterEach(async () => {
    await runtime.close();
  });

  afterAll(async () => {
    await testRedis?.cleanup();
    await database?.drop();
  });

  it('when a runtime is built, then it has no consumer until consume() is called with the handlers', async () => {
    expect(runtime.consumer).toBeUndefined();
    const consumer = runtime.consume({
      'dispute.assigned': async (event, tx) =>
        void (await tx.query('INSERT INTO assignments VALUES ($1, $2)', [
          event.payload.tradeId,
          event.payload.arbitratorId,
        ])),
    });
    expect(runtime.consumer).toBe(consumer);
    const published: OutboxRow[] = [];
    runtime.relay.onPublished((rows) => published.push(...rows));
    runtime.start();

    const id = await runtime.db.transaction((tx) =>
      enqueueEvent(tx, 'dispute.assigned', { disputeId: 'd-1', tradeId: 't-1', arbitratorId: 'arb-1' }),
    );
    runtime.relay.kick();
    await eventually(async () => (await runtime.db.query('SELECT 1 FROM assignments')).length === 1);
    expect(await runtime.db.query('SELECT trade_id, arbitrator_id FROM assignments')).toEqual([
      { trade_id: 't-1', arbitrator_id: 'arb-1' },
    ]);
    expect(published.map((row) => row.id)).toEqual([id]);
    expect(await runtime.checks.queue!()).toMatchObject({ status: 'ok', failed: 0 });
  });

  it('when consume() is called a second time or after start(), then it is refused', () => {
    runtime.consume({});
    expect(() => runtime.consume({})).toThrow(/once, before start/);
    runtime.start();
    expect(() => runtime.consume({})).toThrow(/once, before start/);
  });

  it('when consume() is called after start() on a runtime without a consumer, then it is refused', () => {
    runtime.start();
    expect(() => runtime.consume({})).toThrow(/once, before start/);
    expect(runtime.consumer).toBeUndefined();
  });
});
