import type { Express } from 'express';
import { createRuntimeApp, type Runtime } from '@orrange/runtime';
import { adminRouter } from './api/admin.routes';
import { authRouter } from './api/auth.routes';
import { internalRouter } from './api/internal.routes';
import { openapi } from './api/openapi';
import { usersRouter } from './api/users.routes';
import type { Config } from './config';
import type { UserDatabase } from './data/prisma';
import { buildDeps, type Deps } from './domain/deps';
import type { PasswordHasher } from './domain/password-hasher';

/** What the HTTP layer needs; built by index.ts, or by tests against their own database and Redis. */
export interface AppDeps {
  runtime: Runtime;
  store: UserDatabase;
  config: Config;
  /** Tests may pass their own (e.g. to watch verifications); otherwise one is built from config. */
  hasher?: PasswordHasher;
}

/** Builds the user service's express app. Never listens: index.ts does, and tests use supertest. */
export function createApp({ runtime, store, config, hasher }: AppDeps): Express {
  const deps: Deps = buildDeps({ store, db: runtime.db, redis: runtime.redis, logger: runtime.logger, config, hasher });
  return createRuntimeApp(runtime, { openapi }, (app) => {
    app.use(authRouter(deps));
    app.use(usersRouter(deps));
    app.use(adminRouter(deps));
    app.use(internalRouter(deps));
  });
}
