import path from 'node:path';
import type { Express } from 'express';
import { createLogger } from '@orrange/logger';
import type { Runtime } from '@orrange/runtime';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@orrange/testing';
import { createApp } from '../src/app';
import { createDisputeService } from '../src/composition';
import { readConfig, SCHEMA } from '../src/config';
import type { DisputeDeps } from '../src/domain/dispute.use-case';

export interface Harness {
  runtime: Runtime;
  deps: DisputeDeps;
  app: Express;
  testDb: TestDatabase;
  testRedis: TestRedis;
  close(): Promise<void>;
}

/** The service (runtime with its event handlers) on a fresh migrated database and a private Redis prefix; `close` removes both. */
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
  const service = createDisputeService(config, { logger: createLogger('dispute', 'silent') });
  await service.runtime.db.checkNow();
  return {
    ...service,
    app: createApp(service),
    testDb,
    testRedis,
    async close() {
      await service.close();
      await testRedis.cleanup();
      await testDb.drop();
    },
  };
}
