import type { Express } from 'express';
import { createRuntimeApp, type Runtime } from '@orrange/runtime';
import { disputeRoutes } from './api/dispute.routes';
import { openapi } from './api/openapi';
import type { DisputeDeps } from './domain/dispute.use-case';

/** What the HTTP layer needs; built by createDisputeService (index.ts, or tests on their own database and Redis). */
export interface AppDeps {
  runtime: Runtime;
  deps: DisputeDeps;
}

/** Builds the dispute service's express app. Never listens: index.ts does, and tests use supertest. */
export function createApp({ runtime, deps }: AppDeps): Express {
  return createRuntimeApp(runtime, { openapi }, (app) => {
    app.use(disputeRoutes(deps, runtime.db));
  });
}
