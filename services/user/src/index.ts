import { startService } from '@orrange/http';
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
  await serve(service, createApp({ runtime: service.runtime, store: service.store, config, hasher }), config.PORT);
}

startService('user', main);
