import path from 'node:path';
import type { Express } from 'express';
import { createLogger } from '@orrange/logger';
import type { Runtime } from '@orrange/runtime';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@orrange/testing';
import { createApp } from '../src/app';
import { createUserService } from '../src/composition';
import { readConfig, SCHEMA, type Config } from '../src/config';
import type { PasswordHasher } from '../src/domain/password-hasher';

export interface Harness {
  runtime: Runtime;
  config: Config;
  testDb: TestDatabase;
  testRedis: TestRedis;
  app(options?: { hasher?: PasswordHasher }): Express;
  close(): Promise<void>;
}

/** The service's runtime (its consumers not started) on a fresh migrated database and a private Redis prefix; `close` removes both. */
export async function createHarness(overrides: NodeJS.ProcessEnv = {}): Promise<Harness> {
  const testDb = await createTestDatabase([{ schema: SCHEMA, dir: path.join(__dirname, '../prisma/migrations') }], {
    searchPath: SCHEMA,
  });
  const testRedis = await createTestRedis();
  const config = readConfig({
    DATABASE_URL: testDb.url,
    REDIS_URL: testRedis.url,
    REDIS_PREFIX: testRedis.prefix,
    LOG_LEVEL: 'silent',
    DB_HEALTH_INTERVAL_MS: '0',
    NODE_ENV: 'test',
    ...overrides,
  });
  const service = createUserService(config, { logger: createLogger('user', 'silent') });
  const { runtime } = service;
  await runtime.db.checkNow();
  return {
    runtime,
    config,
    testDb,
    testRedis,
    app: (options = {}) => createApp({ runtime, config, hasher: options.hasher }),
    async close() {
      await service.close();
      await testRedis.cleanup();
      await testDb.drop();
    },
  };
}
