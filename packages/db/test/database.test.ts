import net from 'node:net';
import { Registry } from 'prom-client';
import { createTestDatabase, type TestDatabase, eventually } from '@orrange/testing';
import { Database, type Tx } from '../src';

describe('Database (real Postgres)', () => {
  let testDb: TestDatabase;
  let db: Database;
  let registry: Registry;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    registry = new Registry();
    db = new Database({
      url: testDb.url,
      name: 'probe',
      schema: 'probe',
      max: 4,
      healthIntervalMs: 50,
      registry,
      retry: { baseDelayMs: 10, attemptsMax: 8 },
    });
    await db.query('CREATE SCHEMA probe');
    await db.query('CREATE TABLE probe.counter (id int PRIMARY KEY, value int NOT NULL CHECK (value >= 0))');
    await db.query('INSERT INTO probe.counter VALUES (1, 0)');
  });

  afterAll(async () => {
    await db.close();
    await testDb.drop();
  });

  it('when connections are opened, then their search_path starts at the service schema', async () => {
    const [row] = await db.query<{ search_path: string }>('SHOW search_path');
    expect(row!.search_path).toMatch(/^probe/);
    expect(await db.query('SELECT value FROM counter WHERE id = 1')).toEqual([{ value: 0 }]);
  });

  it('when a transaction body throws, then nothing it wrote remains', async () => {
    await expect(
      db.transaction(async (tx) => {
        await tx.query('UPDATE counter SET value = value + 5 WHERE id = 1');
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await db.query('SELECT value FROM counter WHERE id = 1')).toEqual([{ value: 0 }]);
  });

  it.each([
    ['sent in the body', (tx: Tx, sql: string, params: unknown[]) => tx.query(sql, params).then(() => undefined)],
    ['deferred to COMMIT', (tx: Tx, sql: string, params: unknown[]) => tx.defer(sql, params)],
  ])(
    'when serializable transactions conflict on writes %s and are marked retryable, then every one eventually commits once',
    async (_how, write) => {
      const increments = 8;
      await Promise.all(
        Array.from({ length: increments }, () =>
          db.transaction(
            async (tx) => {
              const [row] = await tx.query<{ value: number }>('SELECT value FROM counter WHERE id = 1');
              await write(tx, 'UPDATE counter SET value = $1 WHERE id = 1', [row!.value + 1]);
            },
            { retryable: true, isolation: 'SERIALIZABLE' },
          ),
        ),
      );
      expect(await db.query('SELECT value FROM counter WHERE id = 1')).toEqual([{ value: increments }]);
      await db.query('UPDATE counter SET value = 0 WHERE id = 1');
    },
  );

  it('when a transaction is retried after a conflict, then its effects after commit run once, and never for one that rolled back', async () => {
    const conflict = Object.assign(new Error('could not serialize access'), { code: '40001' });
    const effects: string[] = [];
    let attempts = 0;
    await db.transaction(
      async (tx) => {
        attempts++;
        tx.afterCommit(() => effects.push(`committed on attempt ${attempts}`));
        await tx.query('UPDATE counter SET value = value WHERE id = 1');
        if (attempts < 3) throw conflict;
      },
      { retryable: true },
    );
    expect(attempts).toBe(3);
    expect(effects).toEqual(['committed on attempt 3']);

    await expect(
      db.transaction(async (tx) => {
        tx.afterCommit(() => effects.push('rolled back'));
        await tx.query('UPDATE counter SET value = -1 WHERE id = 1');
      }),
    ).rejects.toThrow(/counter_value_check/);
    expect(effects).toEqual(['committed on attempt 3']);
  });

  it('when a conflict happens in a transaction not marked retryable, then the error reaches the caller', async () => {
    const conflict = Object.assign(new Error('could not serialize access'), { code: '40001' });
    let attempts = 0;
    await expect(
      db.transaction(async () => {
        attempts++;
        throw conflict;
      }),
    ).rejects.toBe(conflict);
    expect(attempts).toBe(1);
  });

  it('when the server terminates every connection, then the manager recovers and later queries succeed', async () => {
    // Fill the pool with live connections, then have Postgres kill all of them.
    await Promise.all(Array.from({ length: 4 }, () => db.query('SELECT pg_sleep(0.01)')));
    const admin = new Database({ url: testDb.url, name: 'admin', max: 1, healthIntervalMs: 0 });
    const [killed] = await admin.query<{ n: string }>(
      `SELECT count(pg_terminate_backend(pid))::text AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'probe'`,
    );
    await admin.close();
    expect(Number(killed!.n)).toBeGreaterThan(0);

    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => db.query<{ n: number }>('SELECT $1::int AS n', [i])),
    );
    expect(results.map((r) => r[0]!.n)).toEqual([0, 1, 2, 3, 4, 5]);
    await db.transaction(async (tx) => tx.query('UPDATE counter SET value = value + 1 WHERE id = 1'));
    expect(await db.query('SELECT value FROM counter WHERE id = 1')).toEqual([{ value: 1 }]);
    await eventually(async () => db.health().status === 'ok');
  });

  it('when the database is unreachable, then the health monitor reports down and metrics say so', async () => {
    const unreachable = new Database({
      url: 'postgresql://postgres@127.0.0.1:1/nowhere',
      name: 'gone',
      healthIntervalMs: 0,
      connectionTimeoutMs: 200,
      retry: { attemptsMax: 2, baseDelayMs: 5 },
    });
    const health = await unreachable.checkNow();
    expect(health.status).toBe('down');
    expect(health.primary.consecutiveFailures).toBe(1);
    await expect(unreachable.query('SELECT 1')).rejects.toThrow();
    await unreachable.close();
  });

  it('when every connection is dropped at once, then a transaction gives up after attemptsMax connection attempts in all', async () => {
    let attempts = 0;
    const dropping = net.createServer((socket) => {
      attempts++;
      socket.destroy();
    });
    await new Promise<void>((listening) => dropping.listen(0, '127.0.0.1', listening));
    const { port } = dropping.address() as net.AddressInfo;
    const flaky = new Database({
      url: `postgresql://postgres@127.0.0.1:${port}/nowhere`,
      name: 'flaky',
      healthIntervalMs: 0,
      retry: { attemptsMax: 3, baseDelayMs: 1 },
    });
    await expect(flaky.transaction(async (tx) => tx.query('SELECT 1'))).rejects.toThrow(/Connection terminated/);
    expect(attempts).toBe(3);
    await flaky.close();
    await new Promise((closed) => dropping.close(closed));
  });

  describe('transaction-local settings', () => {
    const SHOW = "SELECT current_setting('orrange.probe', true) AS v";
    let single: Database;
    beforeAll(() => {
      // One connection: whatever a statement leaves on it, the next one sees.
      single = new Database({ url: testDb.url, name: 'settings', schema: 'probe', max: 1, healthIntervalMs: 0 });
    });
    afterAll(() => single.close());
    const unset = async () => expect([null, '']).toContain((await single.query<{ v: string | null }>(SHOW))[0]!.v);

    it('when a transaction is given settings, then its statements see them and the next statement on its connection does not', async () => {
      const seen = await single.transaction(async (tx) => [await tx.query(SHOW), await tx.query(SHOW)], {
        settings: { 'orrange.probe': 'alice' },
      });
      expect(seen).toEqual([[{ v: 'alice' }], [{ v: 'alice' }]]);
      await unset();
    });

    it('when single statements run with settings, then each sees them in a transaction of its own, on the primary and as lag-tolerant reads', async () => {
      const as = single.withSettings({ 'orrange.probe': 'bob' });
      expect(await as.primary.query(SHOW)).toEqual([{ v: 'bob' }]);
      await unset();
      expect(await as.replicaReader.query(SHOW)).toEqual([{ v: 'bob' }]);
      await unset();
      expect(await as.primary.query('UPDATE counter SET value = value WHERE id = 1 RETURNING id')).toEqual([{ id: 1 }]);
    });

    it('when a statement run with settings fails, then its error reaches the caller and its connection is left clean', async () => {
      const as = single.withSettings({ 'orrange.probe': 'carol' });
      await expect(as.primary.query('SELECT 1 / 0')).rejects.toMatchObject({ code: '22012' });
      await unset();
      expect(await single.query('SELECT value FROM counter WHERE id = 1')).toEqual([{ value: expect.any(Number) }]);
    });
  });

  it('when metrics are scraped, then pool and health gauges are exposed', async () => {
    await db.checkNow();
    const text = await registry.metrics();
    expect(text).toMatch(/db_pool_connections\{database="probe",state="total"\} \d+/);
    expect(text).toMatch(/db_up\{database="probe"\} 1/);
    expect(text).toContain('db_query_duration_seconds_bucket');
  });

  it('when no replica is configured or healthy, then reads fall back to the primary', async () => {
    const withReplica = new Database({
      url: testDb.url,
      name: 'replicated',
      schema: 'probe',
      replicaUrls: ['postgresql://postgres@127.0.0.1:1/nowhere'],
      healthIntervalMs: 0,
      connectionTimeoutMs: 200,
      retry: { attemptsMax: 1 },
    });
    await withReplica.checkNow();
    expect(withReplica.health().status).toBe('degraded');
    expect(await withReplica.queryRead('SELECT value FROM counter WHERE id = 1')).toEqual([{ value: 1 }]);
    await withReplica.close();
  });
});
