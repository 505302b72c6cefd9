import { serve } from '@orrange/runtime';
import { createApp } from './app';
import { createUserService } from './composition';
import { readConfig } from './config';
import { PasswordHasher } from './domain/password-hasher';

/** Composition root: config → the service (runtime, consumer, housekeeping) → app → listen → graceful shutdown. */
async function main(): Promise<void> {
  const config = readConfig();
  const service = createUserService(config);
  const hasher = new PasswordHasher({
    concurrencyMax: config.LOGIN_CONCURRENCY_MAX,
    waitingMax: config.LOGIN_QUEUE_MAX,
  });
  await hasher.warm();
  await serve(service, createApp({ runtime: service.runtime, config, hasher }), config.PORT);
}

main().catch((error: unknown) => {
  console.error(
    JSON.stringify({
      level: 'error',
      service: 'user',
      message: 'failed to start',
      error: error instanceof Error ? error.message : String(error),
    }),
  );
  process.exit(1);
});
