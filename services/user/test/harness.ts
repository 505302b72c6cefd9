import path from 'node:path';
import type { Express } from 'express';
import { createLogger } from '@orrange/logger';
import type { Runtime } from '@orrange/runtime';
import { createTestGround, type TestDatabase, type TestRedis } from '@orrange/testing';
import { createApp } from '../src/app';
import { createUserService } from '../src/composition';
import { readConfig, SCHEMA, type Config } from '../src/config';
import type { UserDatabase } from '../src/data/prisma';
import type { PasswordHasher } from '../src/domain/password-hasher';

export interface Harness {
  runtime: Runtime;
  store: UserDatabase;
  config: Config;
  testDb: TestDatabase;
  testRedis: TestRedis;
  app(options?: { hasher?: PasswordHasher }): Express;
  close(): Promise<void>;
}

/** The service's runtime (its consumers not started) on a fresh migrated database and a private Redis prefix; `close` removes both. */
export async function createHarness(overrides: NodeJS.ProcessEnv = {}): Promise<Harness> {
  const ground = await createTestGround(
    [{ schema: SCHEMA, dir: path.join(__dirname, '../prisma/migrations') }],
    SCHEMA,
  );
  const config = readConfig({ ...ground.env, ...overrides });
  const service = createUserService(config, { logger: createLogger('user', 'silent') });
  const { runtime, store } = service;
  await runtime.db.checkNow();
  return {
    runtime,
    store,
    config,
    testDb: ground.testDb,
    testRedis: ground.testRedis,
    app: (options = {}) => createApp({ runtime, store, config, hasher: options.hasher }),
    async close() {
      await service.close();
      await ground.cleanup();
    },
  };
}
