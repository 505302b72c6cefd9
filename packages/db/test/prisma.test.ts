import { Registry } from 'prom-client';
import { createTestDatabase, type TestDatabase } from '@orrange/testing';
import { Database, type PrismaClientOptions } from '../src';

/** What Database.prisma builds, standing in for a service's generated client: records what it was given. */
class RecordingClient {
  readonly queryListeners: Array<(event: { query: string; duration: number }) => void> = [];
  transactionOptions: unknown;
  /** What the next $transaction does around its body. */
  static around: (body: () => Promise<unknown>) => Promise<unknown> = (body) => body();

  constructor(readonly options: PrismaClientOptions) {}

  $on(_event: 'query', listener: (event: { query: string; duration: number }) => void): void {
    this.queryListeners.push(listener);
  }

  $transaction<R>(body: (tx: unknown) => Promise<R>, options?: unknown): Promise<R> {
    this.transactionOptions = options;
    return RecordingClient.around(() => body(this)) as Promise<R>;
  }
}

const connectionLost = () => Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });
const conflict = () => Object.assign(new Error('could not serialize access'), { code: '40001' });

describe('Database.prisma: a Prisma client over the pool manager', () => {
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
      healthIntervalMs: 0,
      statementTimeoutMs: 3_000,
      connectionTimeoutMs: 1_500,
      slowQueryMs: 100,
      registry,
      retry: { baseDelayMs: 1, attemptsMax: 4 },
    });
  });

  afterEach(() => {
    RecordingClient.around = (body) => body();
  });

  afterAll(async () => {
    await db.close();
    await testDb.drop();
  });

  it('when used, then one client is built over the primary pool, with the pool limits and isolation the transaction asks for', async () => {
    const prisma = db.prisma(RecordingClient);
    const client = await prisma.run(async (c) => c);
    expect(await prisma.read(async (c) => c)).toBe(client);
    expect(client.options.log).toEqual([{ emit: 'event', level: 'query' }]);
    await prisma.transaction(async () => undefined, { isolation: 'SERIALIZABLE' });
    expect(client.transactionOptions).toEqual({ maxWait: 1_500, timeout: 6_000, isolationLevel: 'Serializable' });
  });

  it("when the client reports a slow statement, then it counts in the pool manager's slow-query metric", async () => {
    const client = await db.prisma(RecordingClient).run(async (c) => c);
    const slow = async () => (await registry.getSingleMetric('db_slow_queries_total')!.get()).values[0]?.value ?? 0;
    const before = await slow();
    for (const listener of client.queryListeners) listener({ query: 'SELECT pg_sleep(1)', duration: 250 });
    for (const listener of client.queryListeners) listener({ query: 'SELECT 1', duration: 2 });
    expect(await slow()).toBe(before + 1);
  });

  it('when the connection is lost while the body runs, then the transaction runs again, and never once the body is done', async () => {
    const prisma = db.prisma(RecordingClient);
    let runs = 0;
    const result = await prisma.transaction(async () => {
      runs += 1;
      if (runs === 1) throw connectionLost();
      return 'committed';
    });
    expect([result, runs]).toEqual(['committed', 2]);

    // Lost at COMMIT: the outcome is unknown, so the body must not run again.
    RecordingClient.around = async (body) => {
      await body();
      throw connectionLost();
    };
    runs = 0;
    const countRun = async () => {
      runs += 1;
    };
    await expect(prisma.transaction(countRun)).rejects.toThrow(/Connection terminated/);
    expect(runs).toBe(1);
  });

  it('when a transaction conflicts (40001), then it runs again only if the caller marked it retryable', async () => {
    const prisma = db.prisma(RecordingClient);
    let runs = 0;
    const conflictOnce = async () => {
      runs += 1;
      if (runs === 1) throw conflict();
      return runs;
    };
    await expect(prisma.transaction(conflictOnce)).rejects.toThrow(/serialize/);
    runs = 0;
    expect(await prisma.transaction(conflictOnce, { retryable: true })).toBe(2);
  });

  it('when a statement outside a transaction loses its connection, then it is retried like Database.query', async () => {
    let runs = 0;
    const answer = await db.prisma(RecordingClient).run(async () => {
      runs += 1;
      if (runs < 3) throw connectionLost();
      return runs;
    });
    expect(answer).toBe(3);
  });
});
