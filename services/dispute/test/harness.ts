import path from 'node:path';
import type { Express } from 'express';
import { createLogger } from '@orrange/logger';
import type { Runtime } from '@orrange/runtime';
import { createTestGround, type TestDatabase, type TestRedis } from '@orrange/testing';
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
  const ground = await createTestGround(
    [{ schema: SCHEMA, dir: path.join(__dirname, '../prisma/migrations') }],
    SCHEMA,
  );
  const config = readConfig({ ...ground.env, ...overrides });
  const service = createDisputeService(config, { logger: createLogger('dispute', 'silent') });
  await service.runtime.db.checkNow();
  return {
    ...service,
    app: createApp(service),
    testDb: ground.testDb,
    testRedis: ground.testRedis,
    async close() {
      await service.close();
      await ground.cleanup();
    },
  };
}
