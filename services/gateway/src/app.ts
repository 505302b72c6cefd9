import cors from 'cors';
import type { RequestListener } from 'node:http';
import express from 'express';
import helmet from 'helmet';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import { accessLog, notFoundHandler, parseKeyring, problemHandler, requestContext } from '@orrange/http';
import type { Logger } from '@orrange/logger';
import { clusterMetrics } from '@orrange/runtime/cluster';
import { ApiKeyResolver } from './auth/api-key-resolver';
import { authenticate, refuseBadCredentials, stripInternalHeaders } from './auth/authenticate.middleware';
import { operatorCheck, requireOperator } from './auth/operator';
import { TokenChecker } from './auth/token-checker';
import type { TrackedCache } from './auth/tracked-cache';
import type { Config } from './config';
import { docsRouter } from './docs/docs.routes';
import { OpenApiAggregator } from './docs/openapi-merge';
import { bodySizeGuard } from './limits/body-size.middleware';
import { canonicalPath } from './limits/canonical-path.middleware';
import { rateLimits } from './limits/rate-limits';
import { healthRouter } from './observability/health.routes';
import { requestMetrics, type GatewayMetrics } from './observability/metrics';
import { admission } from './proxy/admission';
import { proxyToServices } from './proxy/proxy.middleware';
import type { Upstreams } from './proxy/upstream-pool';
import type { StreamHub } from './stream/stream-hub';
import { StreamSlots } from './stream/stream-slots';
import { StreamTickets } from './stream/stream-tickets';
import { streamRouter } from './stream/stream.routes';

export interface GatewayDeps {
  config: Config;
  logger: Logger;
  registry: Registry;
  /** The gateway's metrics, built once with the registry (the upstream pools report into them too). */
  metrics: GatewayMetrics;
  redis: Redis;
  /** Not-before lookups: in-process while Redis tracking is established, a GET on `redis` otherwise. */
  trackedCache: TrackedCache;
  upstreams: Upstreams;
  streamHub: StreamHub;
}

/** Headers a browser client may read across origins. */
const EXPOSED_HEADERS = [
  'X-Request-Id',
  'RateLimit',
  'RateLimit-Policy',
  'RateLimit-Limit',
  'RateLimit-Remaining',
  'RateLimit-Reset',
  'Retry-After',
  'Idempotency-Replayed',
];

/**
 * The gateway: admission at the edge (a service lane that is full sheds the request before express sees it), then
 * the express app. It never listens: index.ts does, and tests drive it with supertest.
 */
export function createApp(deps: GatewayDeps): RequestListener {
  const { config, logger, registry, metrics, redis, trackedCache, upstreams, streamHub } = deps;
  const tokens = new TokenChecker(
    {
      keyring: parseKeyring(config.JWT_SECRETS, config.JWT_ACTIVE_KID),
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
    },
    trackedCache,
    config.REDIS_PREFIX,
  );
  const apiKeys = new ApiKeyResolver({
    redis,
    cache: trackedCache,
    prefix: config.REDIS_PREFIX,
    users: upstreams.pools.user,
    internalTokenSecret: config.INTERNAL_TOKEN_SECRET,
    timeoutMs: Math.min(config.UPSTREAM_TIMEOUT_MS, 3_000),
    cacheSeconds: config.API_KEY_CACHE_SECONDS,
    negativeCacheSeconds: config.API_KEY_NEGATIVE_CACHE_SECONDS,
  });
  const openapi = new OpenApiAggregator({
    upstreams,
    timeoutMs: config.HEALTH_TIMEOUT_MS,
    cacheMs: config.OPENAPI_CACHE_MS,
    logger,
  });
  const allowedOrigins = new Set(config.CORS_ORIGINS);

  const app = express();
  app.disable('x-powered-by');
  // req.ip keys the rate limits, so which proxies may set X-Forwarded-For is configured, never guessed.
  app.set('trust proxy', config.TRUST_PROXY);

  // Security headers. No upgrade-insecure-requests: /docs on plain http://localhost must still fetch its own JSON.
  const securityHeaders = helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } });
  const crossOrigin = cors({
    origin: (origin, done) => done(null, origin !== undefined && allowedOrigins.has(origin)),
    credentials: false,
    exposedHeaders: EXPOSED_HEADERS,
    maxAge: 600,
  });
  // 0. At the edge, before the chain: a request for a service whose lane is full gets 503 at once, with the
  // request id, the security headers and CORS of every answer, and nothing else (see admission).
  const admit = admission({
    maxInFlight: config.UPSTREAM_MAX_IN_FLIGHT,
    latencyTargetMs: config.UPSTREAM_LATENCY_TARGET_MS,
    metrics,
    answerSteps: [securityHeaders, crossOrigin],
  });

  // The chain, in order. Each step only sees requests the previous ones let through.
  app.use(requestContext()); // 1. X-Request-Id: echoed or made, and the logging context
  app.use(accessLog(logger)); // 2. one access line per request
  app.use(requestMetrics(metrics)); // 3. duration by route group and status
  app.use(securityHeaders); // 4.
  app.use(crossOrigin); // 5.
  app.use(bodySizeGuard(config.BODY_LIMIT_BYTES)); // 6. declared size here, streamed size while proxying
  app.use(canonicalPath); // 6b. one spelling per path, so limits and routing see the same one
  app.use(stripInternalHeaders); // 7. no client speaks for the gateway
  // The gateway's own pages: no credentials, no rate limits; /health is cheap (one shared report at a time),
  // /metrics and /health's checks are for operators only.
  const isOperator = operatorCheck({ token: config.OPERATOR_TOKEN, nodeEnv: config.NODE_ENV });
  app.use(
    healthRouter({
      upstreams,
      redis,
      timeoutMs: config.HEALTH_TIMEOUT_MS,
      cacheMs: config.HEALTH_CACHE_MS,
      isOperator,
    }),
  );
  const metricsText = clusterMetrics(registry); // every worker's, whichever worker the scrape reaches
  app.get('/metrics', requireOperator(isOperator), async (_req, res) => {
    res.type(registry.contentType).send(await metricsText());
  });
  app.use(docsRouter(openapi));
  app.use(authenticate({ tokens, apiKeys, internalTokenSecret: config.INTERNAL_TOKEN_SECRET, metrics })); // 8. credentials → signed identity
  app.use(
    rateLimits({
      // 9. one budget in Redis for every replica, taken in leases
      redis,
      prefix: config.REDIS_PREFIX,
      perMinute: config.RATE_LIMIT_PER_MINUTE,
      authPerMinute: config.AUTH_RATE_LIMIT_PER_MINUTE,
      loginAccountPerMinute: config.LOGIN_ACCOUNT_RATE_LIMIT_PER_MINUTE,
      bodyLimitBytes: config.BODY_LIMIT_BYTES,
      metrics,
      logger,
    }),
  );
  app.use(refuseBadCredentials); // 10. bad credentials → 401, after they were counted against the budget
  app.use(
    streamRouter({
      // 10b. live updates: served here, held open, never through the upstream lanes
      redis,
      prefix: config.REDIS_PREFIX,
      hub: streamHub,
      // A slot's lease outlives a few missed heartbeats; a crashed gateway's slots come back after it.
      slots: new StreamSlots({
        redis,
        prefix: config.REDIS_PREFIX,
        max: config.STREAMS_PER_USER_MAX,
        leaseMs: config.STREAM_HEARTBEAT_MS * 3,
      }),
      tickets: new StreamTickets({ redis, prefix: config.REDIS_PREFIX }),
      upstreams,
      heartbeatMs: config.STREAM_HEARTBEAT_MS,
      perUserMax: config.STREAMS_PER_USER_MAX,
      timeoutMs: config.UPSTREAM_TIMEOUT_MS,
      logger,
    }),
  );
  app.use(
    proxyToServices({
      upstreams,
      timeoutMs: config.UPSTREAM_TIMEOUT_MS,
      bodyLimitBytes: config.BODY_LIMIT_BYTES,
      metrics,
      logger,
    }),
  ); // 11.
  app.use(notFoundHandler);
  app.use(problemHandler(logger));
  return (req, res) => {
    if (admit(req, res)) app(req, res);
  };
}
