import { Redis, type RedisOptions } from 'ioredis';
import type { Registry } from 'prom-client';
import { redisTlsOptions } from '@orrange/config';
import { createRegistry } from '@orrange/http';
import { createLogger, type Logger } from '@orrange/logger';
import { INVALIDATIONS_OPTIONS, TRACKED_READS_OPTIONS, TrackedCache } from './auth/tracked-cache';
import type { Config } from './config';
import { createGatewayMetrics, type GatewayMetrics } from './observability/metrics';
import { Upstreams } from './proxy/upstream-pool';
import { StreamHub } from './stream/stream-hub';

export interface GatewayResources {
  logger: Logger;
  registry: Registry;
  metrics: GatewayMetrics;
  redis: Redis;
  /** Not-before lookups, answered in-process while Redis tracking is established (see TrackedCache). */
  trackedCache: TrackedCache;
  /** The tracked-reads connection and its invalidation subscriber (held here to be closed; tests kill them). */
  trackingConnections: { reads: Redis; invalidations: Redis };
  upstreams: Upstreams;
  /** The process's one reader of the live-update streams, on its own connection (it blocks), for every SSE client. */
  streamHub: StreamHub;
  close(): Promise<void>;
}

/**
 * What the gateway holds besides the app: Redis (auth checks, API-key cache, rate limits), two more Redis
 * connections for the tracked not-before cache, and the upstream pools. Redis commands fail within a second
 * instead of queueing forever, so an outage becomes a quick 503 rather than hung requests.
 */
export function createGatewayResources(config: Config, options: { logger?: Logger; registry?: Registry } = {}): GatewayResources {
  const logger = options.logger ?? createLogger('gateway', config.LOG_LEVEL);
  const registry = options.registry ?? createRegistry('gateway');
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
    connection.on('error', (error) => logger.warn('redis connection error', { connection: name, error: error.message }));
    return connection;
  };
  // Every request asks Redis once or more (rate limits; API keys; not-before while tracking is down): commands of one tick share one write.
  const redis = connect('main', { enableAutoPipelining: true });
  const trackingConnections = {
    reads: connect('tracked-reads', { ...TRACKED_READS_OPTIONS, enableAutoPipelining: true }),
    invalidations: connect('invalidations', INVALIDATIONS_OPTIONS),
  };
  // XREAD blocks for up to 2 s: its timeout must be longer than the block.
  const streamHub = new StreamHub({ reader: connect('live-reader', { commandTimeout: 5_000, lazyConnect: true }), prefix: config.REDIS_PREFIX, logger });
  const trackedCache = new TrackedCache({ ...trackingConnections, fallback: redis, metrics, logger });
  const upstreams = new Upstreams(
    { user: config.USER_SERVICE_URLS, 'order-book': config.ORDER_BOOK_SERVICE_URLS, 'trade-execution': config.TRADE_SERVICE_URLS, dispute: config.DISPUTE_SERVICE_URLS },
    { maxSockets: config.UPSTREAM_MAX_SOCKETS, probeIntervalMs: config.UPSTREAM_PROBE_INTERVAL_MS, probeTimeoutMs: config.HEALTH_TIMEOUT_MS, ejectMs: config.UPSTREAM_EJECT_MS },
    logger,
    metrics,
  );
  return {
    logger,
    registry,
    metrics,
    redis,
    trackedCache,
    trackingConnections,
    upstreams,
    streamHub,
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
