import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Express } from 'express';
import { createLogger } from '@orrange/logger';
import { signIdentity, type Role } from '@orrange/http';
import type { ApplyOutcome, EventEnvelope, EventPayload, EventType } from '@orrange/queue';
import type { Runtime } from '@orrange/runtime';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@orrange/testing';
import { createApp } from '../src/app';
import { createTradeExecution, type TradeExecution } from '../src/composition';
import { readConfig, SCHEMA } from '../src/config';
import { savePaymentMinute } from '../src/data/trade.repository';

export interface Harness extends TradeExecution {
  testDb: TestDatabase;
  testRedis: TestRedis;
  app: Express;
  /** The signed identity header of a user (as the gateway forwards it). */
  as(userId: string, roles?: Role[]): Record<string, string>;
  /** Applies an event through the real consumer (inbox + handler in one transaction), as a queue delivery would. */
  deliver<T extends EventType>(type: T, payload: EventPayload<T>, id?: string): Promise<string>;
  /**
   * Applies events of grouped types through the real consumer as ONE group (one transaction, inbox rows claimed
   * together, the bulk handler once per run of a type), as a replica does with what arrives while a group runs.
   */
  deliverGroup(events: GroupedEvent[]): Promise<ApplyOutcome[]>;
  close(): Promise<void>;
}

export type GroupedEvent = { [T in EventType]: { type: T; payload: EventPayload<T>; id?: string } }[EventType];

/** The most events one group takes (the consumer's default batchMax). */
const GROUP_MAX = 32;

/**
 * Applies events of one type through a runtime's consumer as ONE group. The first event of a key runs alone and
 * the ones that arrive while it runs form the next group, so an event this consumer has already applied (its
 * inbox row exists: a duplicate that changes nothing) goes first, and all of `events` arrive meanwhile.
 */
export async function deliverGroup(runtime: Runtime, events: GroupedEvent[]): Promise<ApplyOutcome[]> {
  if (events.length === 0 || events.length > GROUP_MAX) throw new Error(`deliverGroup takes 1..${GROUP_MAX} events`);
  if (events.some((e) => e.type !== events[0]!.type)) throw new Error('deliverGroup takes events of one type (one batch key)');
  const envelopes = events.map((e) => ({ id: e.id ?? randomUUID(), type: e.type, occurredAt: new Date().toISOString(), payload: e.payload }) as EventEnvelope);
  const primer = { ...envelopes[0]!, id: randomUUID() };
  await runtime.db.query('INSERT INTO inbox (event_id, consumer) VALUES ($1, $2)', [primer.id, runtime.service]);
  const [, ...outcomes] = await Promise.all([primer, ...envelopes].map((e) => runtime.consumer!.apply(e, false)));
  return outcomes;
}

/** The service (runtime with its event handlers) on a fresh migrated database and a private Redis prefix; `close` removes both. */
export async function createHarness(overrides: NodeJS.ProcessEnv = {}): Promise<Harness> {
  const testDb = await createTestDatabase([{ schema: SCHEMA, dir: path.join(__dirname, '../prisma/migrations') }]);
  const testRedis = await createTestRedis();
  const config = readConfig({ DATABASE_URL: testDb.url, REDIS_URL: testRedis.url, REDIS_PREFIX: testRedis.prefix, LOG_LEVEL: 'silent', DB_HEALTH_INTERVAL_MS: '0', NODE_ENV: 'test', ...overrides });
  const service = createTradeExecution(config, { logger: createLogger('trade-execution', 'silent') });
  await service.runtime.db.checkNow();
  // What start() does first, without starting background work (tests drive the sweeper with sweepNow).
  await savePaymentMinute(service.runtime.db, config.PAYMENT_MINUTE_MS);
  return {
    ...service,
    testDb,
    testRedis,
    app: createApp(service),
    as: (userId, roles = ['user']) => ({ 'x-orrange-identity': signIdentity({ userId, roles, scopes: null, via: 'jwt' }, config.INTERNAL_TOKEN_SECRET) }),
    async deliver(type, payload, id = randomUUID()) {
      const envelope: EventEnvelope = { id, type, occurredAt: new Date().toISOString(), payload } as EventEnvelope;
      return service.runtime.consumer!.apply(envelope);
    },
    deliverGroup: (events) => deliverGroup(service.runtime, events),
    async close() {
      await service.stop();
      await service.runtime.close();
      await testRedis.cleanup();
      await testDb.drop();
    },
  };
}
