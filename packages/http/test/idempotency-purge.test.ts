import { Database } from '@orrange/db';
import { createTestDatabase, type TestDatabase } from '@orrange/testing';
import { IDEMPOTENCY_TABLE_SQL, purgeExpiredIdempotencyKeys } from '../src';

describe('purgeExpiredIdempotencyKeys (real Postgres)', () => {
  let testDb: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = new Database({ url: testDb.url, name: 'purge-test', healthIntervalMs: 0 });
    await db.query(IDEMPOTENCY_TABLE_SQL);
  });

  afterAll(async () => {
    await db.close();
    await testDb.drop();
  });

  it('when keys are past their 24 h, then they are deleted in batches and younger ones are kept', async () => {
    await db.query(
      `INSERT INTO idempotency_keys (scope, key, request_hash, created_at)
       SELECT 'user:a', 'old-' || n, 'h', now() - interval '25 hours' - n * interval '1 second' FROM generate_series(1, 5) AS n
       UNION ALL SELECT 'user:a', 'young', 'h', now() - interval '23 hours'`,
    );
    expect(await purgeExpiredIdempotencyKeys(db, 3)).toBe(3);
    expect(await purgeExpiredIdempotencyKeys(db, 3)).toBe(2);
    expect(await purgeExpiredIdempotencyKeys(db, 3)).toBe(0);
    expect(await db.query('SELECT key FROM idempotency_keys')).toEqual([{ key: 'young' }]);
  });
});
