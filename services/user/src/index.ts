import { createLogger } from '@orrange/logger';
import { serve } from '@orrange/runtime';
import { createApp } from './app';
import { createUserRuntime } from './composition';
import { readConfig } from './config';
import { PasswordHasher } from './domain/password-hasher';
import { startHousekeeping } from './messaging/housekeeping';

/** Composition root: config → runtime (db, redis, outbox relay, consumer) → app → listen → graceful shutdown. */
async function main(): Promise<void> {
  const config = readConfig();
  const logger = createLogger('user', config.LOG_LEVEL);
  const runtime = createUserRuntime(config, logger);
  const hasher = new PasswordHasher({ concurrencyMax: config.LOGIN_CONCURRENCY_MAX, waitingMax: config.LOGIN_QUEUE_MAX });
  await hasher.warm();
  const stopHousekeeping = startHousekeeping(runtime.db, logger);
  await serve(runtime, createApp({ runtime, config, hasher }), config.PORT, [stopHousekeeping]);
}

main().catch((error: unknown) => {
  console.error(JSON.stringify({ level: 'error', service: 'user', message: 'failed to start', error: error instanceof Error ? error.message : String(error) }));
  process.exit(1);
});
