import assert from 'node:assert/strict';
import express, { Router, type Express } from 'express';
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
  /**
   * Paths whose body reaches the handler as the exact bytes sent (a Buffer in `req.body`, any content type)
   * instead of parsed JSON: webhooks signed over their raw body.
   */
  rawBody?: { paths: string[]; limit: string };
}

/** Strict, case-sensitive routing: a route matches one spelling of its path, never `/x/` or `/X` for `/x`. */
const ROUTING = { caseSensitive: true, strict: true } as const;

/**
 * The router every service mounts its routes on. Express's own `Router()` ignores case and trailing slashes,
 * so `/api/v1/auth/LOGIN/` would reach the login handler while the gateway's limits, which key on the path,
 * saw another path. One spelling per route keeps limits, metrics and routing in agreement.
 */
export function serviceRouter(): Router {
  return Router(ROUTING);
}

/**
 * The common frame of every service: request ids, access log, metrics, JSON bodies, forwarded identity,
 * scope checks, /health, /metrics, /openapi.json. Call `mount` with the service's routers, then it adds the
 * 404 and problem+json handlers last.
 */
export function createServiceApp(options: ServiceAppOptions, mount: (app: Express) => void): Express {
  const app = express();
  app.disable('x-powered-by');
  // No ETag hashed from every answer's body (a SHA-1 per answer, writes included, ~1 % of order-book's CPU): the
  // answers are per user and change with every write, and API.md promises no conditional requests. A route whose
  // version is cheap to name sets its own (the order book: its sequence).
  app.set('etag', false);
  app.set('case sensitive routing', ROUTING.caseSensitive);
  app.set('strict routing', ROUTING.strict);
  app.set('trust proxy', 'loopback, uniquelocal');
  app.set('query parser', 'simple');
  app.use(requestContext());
  app.use(accessLog(options.logger));
  app.use(httpMetrics(options.registry));
  app.use(observabilityRouter(options.registry, options.checks));
  if (options.openapi) app.get('/openapi.json', (_req, res) => res.json(options.openapi));
  if (options.rawBody) app.use(options.rawBody.paths, express.raw({ type: () => true, limit: options.rawBody.limit }));
  app.use(express.json({ limit: options.bodyLimit ?? '1mb', strict: true }));
  app.use(authenticate(options.internalTokenSecret));
  app.use(requireScopeForMethod);
  mount(app);
  assertStrictRouting(app);
  app.use(notFoundHandler);
  app.use(problemHandler(options.logger));
  return app;
}

interface RouterLike {
  stack: Array<{ handle: unknown; route?: unknown }>;
  caseSensitive?: boolean;
  strict?: boolean;
}

const isRouter = (handle: unknown): handle is RouterLike =>
  typeof handle === 'function' && Array.isArray((handle as Partial<RouterLike>).stack);

/**
 * A programmer error, caught at boot: a router made with express's `Router()` (case-insensitive, lenient
 * about trailing slashes) mounted anywhere in the app. Use `serviceRouter()`.
 */
function assertStrictRouting(app: Express): void {
  const visit = (router: RouterLike, where: string) => {
    assert.ok(
      router.caseSensitive === true && router.strict === true,
      `${where}: every router must be serviceRouter() (strict, case-sensitive routing)`,
    );
    for (const layer of router.stack)
      if (isRouter(layer.handle))
        visit(layer.handle, `${where} > ${(layer.handle as { name?: string }).name || 'router'}`);
  };
  visit(app.router as unknown as RouterLike, 'app');
}
