import { createLogger } from '@orrange/logger';
import { createRuntime, serve } from '@orrange/runtime';
import { createApp } from './app';
import { readConfig, SCHEMA } from './config';
import { PasswordHasher } from './domain/password-hasher';
import { startHousekeeping } from './messaging/housekeeping';
import { auditHandlers } from './messaging/audit.handlers';
import { reputationHandlers } from './messaging/reputation.handlers';

/** Composition root: config → runtime (db, redis, outbox relay, consumer) → app → listen → graceful shutdown. */
async function main(): Promise<void> {
  const config = readConfig();
  const logger = createLogger('user', config.LOG_LEVEL);
  const runtime = createRuntime({ service: 'user', schema: SCHEMA, config, logger, handlers: { ...reputationHandlers(logger, config.REPUTATION_MIN_FIAT), ...auditHandlers() } });
  const hasher = new PasswordHasher({ concurrencyMax: config.LOGIN_CONCURRENCY_MAX, waitingMax: config.LOGIN_QUEUE_MAX });
  await hasher.warm();
  const stopHousekeeping = startHousekeeping(runtime.db, logger);
  await serve(runtime, createApp({ runtime, config, hasher }), config.PORT, [stopHousekeeping]);
}

main().catch((error: unknown) => {
  console.error(JSON.stringify({ level: 'error', service: 'user', message: 'failed to start', error: error instanceof Error ? error.message : String(error) }));
  process.exit(1);
});
