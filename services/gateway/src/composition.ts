import { Redis, type RedisOptions } from 'ioredis';
import type { Registry } from 'prom-client';
import { redisTlsOptions } from '@orrange/config';
import { createRegistry } from '@orrange/http';
import { createLogger, type Logger } from '@orrange/logger';
import type { GatewayDeps } from './app';
import { INVALIDATIONS_OPTIONS, TRACKED_READS_OPTIONS, TrackedCache } from './auth/tracked-cache';
import type { Config } from './config';
import { createGatewayMetrics } from './observability/metrics';
import { Upstreams } from './proxy/upstream-pool';
import { StreamHub } from './stream/stream-hub';

/** One gateway: what its app runs over (GatewayDeps), and the connections and background work it owns. */
export interface Gateway extends GatewayDeps {
  /** The tracked-reads connection and its invalidation subscriber (held here to be closed; tests kill them). */
  trackingConnections: { reads: Redis; invalidations: Redis };
  /** Starts probing the upstreams (their health decides which replica a request goes to). */
  start(): void;
  close(): Promise<void>;
}

/**
 * One gateway (a worker of index.ts, or a test's): what it holds besides the app, Redis (auth checks, API-key cache,
 * rate limits), two more Redis connections for the tracked not-before cache, and the upstream pools. Redis commands
 * fail within a second instead of queueing forever, so an outage becomes a quick 503 rather than hung requests.
 * index.ts and the test harness both build it here; it has no runtime (the gateway owns no schema and no queue).
 */
export function createGateway(config: Config, overrides: { logger?: Logger; registry?: Registry } = {}): Gateway {
  const logger = overrides.logger ?? createLogger('gateway', config.LOG_LEVEL);
  const registry = overrides.registry ?? createRegistry('gateway');
  const metrics = createGatewayMetrics(registry);
  // Password, user and database come from REDIS_URL; rediss:// verifies the server (REDIS_TLS_CA_FILE or the system's CAs).
  const tls = redisTlsOptions(config.REDIS_URL, config.REDIS_TLS_CA_FILE);
  const connect = (name: string, extra: RedisOptions) => {
    const connection = new Redis(config.REDIS_URL, {
      ...tls,
      maxRetriesPerRequest: 1,
      commandTimeout: 1_000,
      connectTimeout: 2_000,
      disconnectTimeout: 500,
      retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2_000),
      ...extra,
    });
    connection.on('error', (error) =>
      logger.warn('redis connection error', { connection: name, error: error.message }),
    );
    return connection;
  };
  // Every request asks Redis once or more (rate limits; API keys; not-before while tracking is down): commands of one tick share one write.
  const redis = connect('main', { enableAutoPipelining: true });
  const trackingConnections = {
    reads: connect('tracked-reads', { ...TRACKED_READS_OPTIONS, enableAutoPipelining: true }),
    invalidations: connect('invalidations', INVALIDATIONS_OPTIONS),
  };
  // XREAD blocks for up to 2 s: its timeout must be longer than the block.
  const streamHub = new StreamHub({
    reader: connect('live-reader', { commandTimeout: 5_000, lazyConnect: true }),
    prefix: config.REDIS_PREFIX,
    logger,
  });
  const trackedCache = new TrackedCache({
    ...trackingConnections,
    fallback: redis,
    metrics,
    logger,
    leaseMs: config.REVOCATION_LEASE_MS,
  });
  const upstreams = new Upstreams(
    {
      user: config.USER_SERVICE_URLS,
      'order-book': config.ORDER_BOOK_SERVICE_URLS,
      'trade-execution': config.TRADE_SERVICE_URLS,
      dispute: config.DISPUTE_SERVICE_URLS,
    },
    {
      maxSockets: config.UPSTREAM_MAX_SOCKETS,
      probeIntervalMs: config.UPSTREAM_PROBE_INTERVAL_MS,
      probeTimeoutMs: config.HEALTH_TIMEOUT_MS,
      ejectMs: config.UPSTREAM_EJECT_MS,
    },
    logger,
    metrics,
  );
  return {
    config,
    logger,
    registry,
    metrics,
    redis,
    trackedCache,
    trackingConnections,
    upstreams,
    streamHub,
    start: () => upstreams.start(),
    async close() {
      upstreams.close();
      streamHub.close();
      trackedCache.close();
      await Promise.all([redis, trackingConnections.reads, trackingConnections.invalidations].map(closeRedis));
    },
  };
}

/** quit() waits for Redis; when it is unreachable, stop reconnecting instead. */
async function closeRedis(connection: Redis): Promise<void> {
  if (connection.status === 'ready') await connection.quit().catch(() => connection.disconnect());
  else connection.disconnect();
}
