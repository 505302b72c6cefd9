import { createTestDatabase, type SchemaMigrations, type TestDatabase } from './test-database';
import { createTestRedis, type TestRedis } from './test-redis';

/** What a service's test harness stands on: a fresh migrated database and a Redis prefix of its own. */
export interface TestGround {
  testDb: TestDatabase;
  testRedis: TestRedis;
  /**
   * The environment a service's readConfig takes to run on them: their URLs and prefix, logs silent (or
   * TEST_LOG_LEVEL), no background health polling, NODE_ENV test. A harness spreads its own overrides after it.
   */
  env: NodeJS.ProcessEnv;
  /** Deletes the prefix's keys and drops the database; call it after the service has closed. */
  cleanup(): Promise<void>;
}

/** A database with `migrations` applied (search_path `searchPath`) and a private Redis prefix, for one test suite. */
export async function createTestGround(migrations: SchemaMigrations[], searchPath: string): Promise<TestGround> {
  const testDb = await createTestDatabase(migrations, { searchPath });
  const testRedis = await createTestRedis();
  return {
    testDb,
    testRedis,
    env: {
      DATABASE_URL: testDb.url,
      REDIS_URL: testRedis.url,
      REDIS_PREFIX: testRedis.prefix,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      DB_HEALTH_INTERVAL_MS: '0',
      NODE_ENV: 'test',
    },
    async cleanup() {
      await testRedis.cleanup();
      await testDb.drop();
    },
  };
}
