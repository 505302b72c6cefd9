import type { Logger } from '@orrange/logger';
import { createRuntime, type Runtime } from '@orrange/runtime';
import { SCHEMA, type Config } from './config';
import { auditHandlers } from './messaging/audit.handlers';
import { reputationHandlers } from './messaging/reputation.handlers';

/** The user service's runtime (db, redis, outbox relay, consumer) with every event it consumes: index.ts and the test harness both build it here. */
export function createUserRuntime(config: Config, logger: Logger): Runtime {
  return createRuntime({ service: 'user', schema: SCHEMA, config, logger, handlers: { ...reputationHandlers(logger, config.REPUTATION_MIN_FIAT), ...auditHandlers() } });
}
