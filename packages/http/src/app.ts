import express, { type Express } from 'express';
import type { Registry } from 'prom-client';
import type { Logger } from '@orrange/logger';
import { authenticate, requireScopeForMethod } from './identity';
import { httpMetrics, observabilityRouter, type HealthCheck } from './observability';
import { notFoundHandler, problemHandler } from './problem';
import { accessLog, requestContext } from './request-context';

export interface ServiceAppOptions {
  logger: Logger;
  registry: Registry;
  checks: Record<string, HealthCheck>;
  internalTokenSecret: string;
  bodyLimit?: string;
  /** The service's OpenAPI document, served at /openapi.json for the gateway to merge. */
  openapi?: object;
}

/**
 * The common frame of every service: request ids, access log, metrics, JSON bodies, forwarded identity,
 * scope checks, /health, /metrics, /openapi.json. Call `mount` with the service's routers, then it adds the
 * 404 and problem+json handlers last.
 */
export function createServiceApp(options: ServiceAppOptions, mount: (app: Express) => void): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback, uniquelocal');
  app.set('query parser', 'simple');
  app.use(requestContext());
  app.use(accessLog(options.logger));
  app.use(httpMetrics(options.registry));
  app.use(observabilityRouter(options.registry, options.checks));
  if (options.openapi) app.get('/openapi.json', (_req, res) => res.json(options.openapi));
  app.use(express.json({ limit: options.bodyLimit ?? '1mb', strict: true }));
  app.use(authenticate(options.internalTokenSecret));
  app.use(requireScopeForMethod);
  mount(app);
  app.use(notFoundHandler);
  app.use(problemHandler(options.logger));
  return app;
}
