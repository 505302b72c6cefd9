import path from 'node:path';
import { serviceInfo } from '@orrange/config';
import { createLogger } from '@orrange/logger';
import { createTestGround, type TestDatabase, type TestRedis } from '@orrange/testing';
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
  const ground = await createTestGround(
    [
      { schema: TRADE_SCHEMA, dir: path.join(__dirname, '../../trade-execution/prisma/migrations') },
      { schema: serviceInfo('user').schema, dir: path.join(__dirname, '../../user/prisma/migrations') },
      { schema: SCHEMA, dir: path.join(__dirname, '../prisma/migrations') },
    ],
    SCHEMA,
  );
  const config = readConfig({ ...ground.env, ...NO_LIMITS, ...overrides });
  const build = () =>
    createOrderBookService(config, {
      logger: createLogger('order-book', (process.env.TEST_LOG_LEVEL ?? 'silent') as 'silent'),
    });
  const service = build();
  const replicas: OrderBookService[] = [];
  await service.runtime.db.checkNow();
  return {
    ...service,
    testDb: ground.testDb,
    testRedis: ground.testRedis,
    replica() {
      const replica = build();
      replicas.push(replica);
      return replica;
    },
    async close() {
      for (const replica of replicas) await replica.close();
      await service.close();
      await ground.cleanup();
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
