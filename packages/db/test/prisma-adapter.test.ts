import { createTestDatabase, type TestDatabase } from '@orrange/testing';
import { Database, PrismaDatabase } from '../src';

/** What PrismaDatabase builds, standing in for a service's generated client: records what it was given. */
class RecordingClient {
  transactionOptions: unknown;
  /** What the next $transaction does around its body. */
  static around: (body: () => Promise<unknown>) => Promise<unknown> = (body) => body();

  constructor(readonly options: { log: unknown }) {}

  $on(): void {}

  async $disconnect(): Promise<void> {}

  async $queryRawUnsafe<T>(): Promise<T> {
    return [] as T;
  }

  $transaction<R>(body: (client: RecordingClient) => Promise<R>, options: unknown): Promise<R> {
    this.transactionOptions = options;
    return RecordingClient.around(() => body(this)) as Promise<R>;
  }
}

const connectionLost = () => Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });

/**
 * What PrismaDatabase adds to the Database's rules, which database.test.ts checks for Database.transaction and the
 * dispute service's data-access.test.ts through a real client: where a Prisma transaction's COMMIT begins, and the
 * options its transactions are given.
 */
describe('PrismaDatabase: a Prisma client over the pool manager', () => {
  let testDb: TestDatabase;
  let db: Database;
  let prisma: PrismaDatabase<RecordingClient, RecordingClient>;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = new Database({
      url: testDb.url,
      name: 'probe',
      schema: 'probe',
      healthIntervalMs: 0,
      connectionTimeoutMs: 1_500,
      retry: { baseDelayMs: 1, attemptsMax: 4 },
    });
    prisma = new PrismaDatabase(db, RecordingClient);
  });

  afterEach(() => {
    RecordingClient.around = (body) => body();
  });

  afterAll(async () => {
    await prisma.close();
    await db.close();
    await testDb.drop();
  });

  it('when used, then one client serves the primary, reporting its statements, and a transaction waits for a connection past the pool, with the isolation asked for', async () => {
    const client = await prisma.query(async (c) => c);
    expect(await prisma.queryRead(async (c) => c)).toBe(client);
    expect(client.options.log).toEqual([{ emit: 'event', level: 'query' }]);
    await prisma.transaction(async () => undefined, { isolation: 'SERIALIZABLE' });
    expect(client.transactionOptions).toEqual({ maxWait: 2_500, timeout: 30_000, isolationLevel: 'Serializable' });
  });

  it('when the connection is lost while the body runs, then the transaction runs again, and never once the body is done', async () => {
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
});
