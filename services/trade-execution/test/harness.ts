import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Express } from 'express';
import { createLogger } from '@orrange/logger';
import { signIdentity, type Role } from '@orrange/http';
import type { EventEnvelope, EventPayload, EventType } from '@orrange/queue';
import { createTestGround, type TestDatabase, type TestRedis } from '@orrange/testing';
import { createApp } from '../src/app';
import { createTradeExecutionService, type TradeExecutionService } from '../src/composition';
import { readConfig, SCHEMA } from '../src/config';
import { savePaymentMinute } from '../src/data/trade.repository';

export interface Harness extends TradeExecutionService {
  testDb: TestDatabase;
  testRedis: TestRedis;
  app: Express;
  /** The signed identity header of a user (as the gateway forwards it). */
  as(userId: string, roles?: Role[]): Record<string, string>;
  /** Applies an event through the real consumer (inbox + handler in one transaction), as a queue delivery would. */
  deliver<T extends EventType>(type: T, payload: EventPayload<T>, id?: string): Promise<string>;
  close(): Promise<void>;
}

/** The service (runtime with its event handlers) on a fresh migrated database and a private Redis prefix; `close` removes both. */
export async function createHarness(overrides: NodeJS.ProcessEnv = {}): Promise<Harness> {
  // The user service's schema too: open_trades copies the seller's sealed payment method through its payment_method_snapshots.
  const ground = await createTestGround(
    [
      { schema: SCHEMA, dir: path.join(__dirname, '../prisma/migrations') },
      { schema: 'users', dir: path.join(__dirname, '../../user/prisma/migrations') },
    ],
    SCHEMA,
  );
  const config = readConfig({ ...ground.env, ...overrides });
  const service = createTradeExecutionService(config, { logger: createLogger('trade-execution', 'silent') });
  await service.runtime.db.checkNow();
  // What start() does first, without starting background work (tests drive the sweeper with sweepNow).
  await savePaymentMinute(service.runtime.db, config.PAYMENT_MINUTE_MS);
  return {
    ...service,
    testDb: ground.testDb,
    testRedis: ground.testRedis,
    app: createApp(service),
    as: (userId, roles = ['user']) => ({
      'x-orrange-identity': signIdentity({ userId, roles, scopes: null, via: 'jwt' }, config.INTERNAL_TOKEN_SECRET),
    }),
    async deliver(type, payload, id = randomUUID()) {
      const envelope: EventEnvelope = { id, type, occurredAt: new Date().toISOString(), payload } as EventEnvelope;
      return service.runtime.consumer!.apply(envelope);
    },
    async close() {
      await service.close();
      await ground.cleanup();
    },
  };
}
