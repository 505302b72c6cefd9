import path from 'node:path';
import { serviceInfo } from '@orrange/config';
import { createLogger } from '@orrange/logger';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@orrange/testing';
import type { Express } from 'express';
import { createApp } from '../src/app';
import { createOrderBookService, type OrderBookService } from '../src/composition';
import { readConfig, SCHEMA } from '../src/config';
import { actors, type Actors } from './helpers';

/** The schema of trade-execution, whose ledger the tests fund and read. */
export const TRADE_SCHEMA = serviceInfo('trade-execution').schema;

export interface Harness extends OrderBookService {
  testDb: TestDatabase;
  testRedis: TestRedis;
  /** Another replica of the service on the same database and Redis prefix (closed by `close`). */
  replica(): OrderBookService;
}

/**
 * Limits so high that tests of matching, batching and races never meet them; the tests of the limits set their own.
 */
const NO_LIMITS = {
  ORDERS_OPEN_MAX: '1000000',
  TRADES_OPEN_AS_BUYER_MAX: '1000000',
  MERCHANT_ORDERS_OPEN_MAX: '1000000',
  MERCHANT_TRADES_OPEN_MAX: '1000000',
};

/** The service (its background work not started) on a fresh migrated database and a private Redis prefix; `close` removes both. */
export async function createHarness(overrides: NodeJS.ProcessEnv = {}): Promise<Harness> {
  // trade-execution's schema too: order-book's transactions call its SQL functions (place_sell_holds, open_trades), and
  // the user service's, whose payment_method_snapshots open_trades calls (and payment_method_types the routes do).
  const testDb = await createTestDatabase(
    [
      { schema: TRADE_SCHEMA, dir: path.join(__dirname, '../../trade-execution/prisma/migrations') },
      { schema: serviceInfo('user').schema, dir: path.join(__dirname, '../../user/prisma/migrations') },
      { schema: SCHEMA, dir: path.join(__dirname, '../prisma/migrations') },
    ],
    { searchPath: SCHEMA },
  );
  const testRedis = await createTestRedis();
  const config = readConfig({
    DATABASE_URL: testDb.url,
    REDIS_URL: testRedis.url,
    REDIS_PREFIX: testRedis.prefix,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DB_HEALTH_INTERVAL_MS: '0',
    NODE_ENV: 'test',
    ...NO_LIMITS,
    ...overrides,
  });
  const build = () =>
    createOrderBookService(config, {
      logger: createLogger('order-book', (process.env.TEST_LOG_LEVEL ?? 'silent') as 'silent'),
    });
  const service = build();
  const replicas: OrderBookService[] = [];
  await service.runtime.db.checkNow();
  return {
    ...service,
    testDb,
    testRedis,
    replica() {
      const replica = build();
      replicas.push(replica);
      return replica;
    },
    async close() {
      for (const replica of replicas) await replica.close();
      await service.close();
      await testRedis.cleanup();
      await testDb.drop();
    },
  };
}

/** A harness with the app over its runtime and the actors that drive it: where a component suite starts. */
export async function createAppHarness(
  overrides: NodeJS.ProcessEnv = {},
): Promise<{ harness: Harness; app: Express; t: Actors }> {
  const harness = await createHarness(overrides);
  const app = createApp(harness);
  return { harness, app, t: actors(harness.runtime, app, harness.testDb) };
}
