import type { Express } from 'express';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import { redisTlsOptions, serviceDatabaseUrls, type BaseServiceConfig } from '@orrange/config';
import { Database, type SqlRunner, type Tx } from '@orrange/db';
import {
  createRegistry,
  createServiceApp,
  purgeExpiredIdempotencyKeys,
  runService,
  type HealthCheck,
  type ServiceAppOptions,
} from '@orrange/http';
import { createLogger, type Logger } from '@orrange/logger';
import {
  createRedis,
  EventConsumer,
  OutboxRedelivery,
  OutboxRelay,
  type BulkEventHandlers,
  type ConsumerOptions,
  type ConsumerTransaction,
  type EventHandlers,
  type QueueConsumer,
  type ServiceName,
} from '@orrange/queue';
import { LivePublisher } from './live-events';
import { redisGauges } from './redis-metrics';
import { Sweeper } from './sweeper';

export interface RuntimeOptions {
  service: ServiceName;
  /** The Postgres schema the service owns. */
  schema: string;
  config: BaseServiceConfig;
  logger?: Logger;
  /**
   * Connect as DATABASE_URL's own user instead of the service's role: only for the runtime's own tests, which build
   * their tables themselves in a database no service migrated (a service's role may create nothing).
   */
  databaseAsOwner?: boolean;
  /** Its connections plan no sequential scan where an index serves (see PoolSettings.indexPlansOnly). */
  indexPlansOnly?: boolean;
}

/**
 * How the service's consumer applies what its handlers do not say themselves; `transaction` when its handlers take
 * another client's transaction than the Database's Tx (see ConsumerTransaction).
 */
export type ConsumeOptions<X extends SqlRunner = Tx> = {
  /** Event types applied in bulk (see ConsumerOptions.bulkHandlers). */
  bulkHandlers?: BulkEventHandlers<X>;
  concurrency?: number;
  /** Events applied in groups, one transaction per group (see ConsumerOptions.batchKey). */
  batchKey?: ConsumerOptions['batchKey'];
} & ConsumerTransaction<X>;

/**
 * Everything a service needs around its domain, built the same way for all of them: logger, metrics
 * registry, the pool manager on its schema, Redis, the outbox relay and the idempotent consumer, and the
 * health checks that /health reports (database, Redis, queue).
 */
export interface Runtime {
  service: ServiceName;
  config: BaseServiceConfig;
  logger: Logger;
  registry: Registry;
  db: Database;
  redis: Redis;
  /** Writes live updates after a commit, the events of one turn of the event loop in one pipeline. */
  live: LivePublisher;
  relay: OutboxRelay;
  /** Publishes again the events their consumers have not confirmed within OUTBOX_REDELIVER_MS. */
  redelivery: OutboxRedelivery;
  /** The service's event consumer, once consume() built it; a service that never calls it consumes nothing. */
  readonly consumer: QueueConsumer | undefined;
  /**
   * Builds the consumer of the service's queue over this runtime. Called once, before start(), by the service's
   * composition once the handlers' own dependencies (which need the runtime's database, live publisher, metrics
   * registry) exist, so no handler has to reach for a runtime that does not exist yet.
   */
  consume(handlers: EventHandlers, options?: ConsumeOptions): EventConsumer;
  consume<X extends SqlRunner>(handlers: EventHandlers<X>, options: ConsumeOptions<X>): EventConsumer<X>;
  /**
   * Sweepers started by start() and stopped first by close(): the runtime's redelivery sweep, and any a service
   * adds before start() (its timers, e.g. the dispute service's evidence windows).
   */
  sweepers: Sweeper[];
  checks: Record<string, HealthCheck>;
  /** Starts background work (relay, consumer, sweepers). Separate from construction so tests decide. */
  start(): void;
  /** Stops background work and closes connections, in dependency order. */
  close(): Promise<void>;
}

const REDIS_PING_TIMEOUT_MS = 1_000;
/** How often Idempotency-Keys past their 24 h are looked for (a sweep that deleted a full batch runs again at once). */
const IDEMPOTENCY_PURGE_INTERVAL_MS = 10 * 60_000;
const FAILED_JOBS_DEGRADED = 1;

export function createRuntime(options: RuntimeOptions): Runtime {
  const { config, service } = options;
  // Password, user and database come from REDIS_URL; TLS (rediss://) verifies the server against REDIS_TLS_CA_FILE or
  // the system's CAs. Read first: a bad setting fails before any connection is opened.
  const redisTls = redisTlsOptions(config.REDIS_URL, config.REDIS_TLS_CA_FILE);
  const logger = options.logger ?? createLogger(service, config.LOG_LEVEL);
  const registry = createRegistry(service);
  // As the service's own role (USER_DB_PASSWORD, …): it reaches its schema and the functions granted to it, nothing else.
  const { url, replicaUrls } = options.databaseAsOwner
    ? { url: config.DATABASE_URL, replicaUrls: config.DATABASE_REPLICA_URLS }
    : serviceDatabaseUrls(service, config);
  const db = new Database({
    url,
    replicaUrls,
    replicaLagMaxMs: config.REPLICA_LAG_MAX_MS,
    replicaCheckIntervalMs: config.REPLICA_CHECK_INTERVAL_MS,
    name: service,
    schema: options.schema,
    max: config.DB_POOL_MAX,
    statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS,
    indexPlansOnly: options.indexPlansOnly,
    slowQueryMs: config.DB_SLOW_QUERY_MS,
    healthIntervalMs: config.DB_HEALTH_INTERVAL_MS,
    logger,
    registry,
  });
  const redis = createRedis(config.REDIS_URL, redisTls);
  redis.on('error', (error) => logger.warn('redis connection error', { error: error.message }));
  redisGauges(registry, redis);
  const live = new LivePublisher({
    redis,
    prefix: config.REDIS_PREFIX,
    onError: (error) => logger.warn('live updates not written', { error: error.message }),
  });
  const relay = new OutboxRelay({ db, connection: redis, prefix: config.REDIS_PREFIX, logger, registry });
  const redelivery = new OutboxRedelivery({
    db,
    relay,
    logger,
    registry,
    redeliverAfterMs: config.OUTBOX_REDELIVER_MS,
  });
  // Not timers: republished events are counted by events_republished_total, so no registry for timers_fired_total.
  // Every service keeps its Idempotency-Keys in its own schema (IDEMPOTENCY_TABLE_SQL), purged here.
  const sweepers = [
    new Sweeper({
      timer: 'outbox-redelivery',
      intervalMs: redelivery.sweepIntervalMs,
      sweep: () => redelivery.sweep(),
      logger,
    }),
    new Sweeper({
      timer: 'idempotency-purge',
      intervalMs: IDEMPOTENCY_PURGE_INTERVAL_MS,
      sweep: () => purgeExpiredIdempotencyKeys(db),
      logger,
    }),
  ];
  let consumer: QueueConsumer | undefined;
  let started = false;

  const checks: Record<string, HealthCheck> = {
    database: () => {
      const health = db.health();
      return {
        status: health.status,
        latencyMs: health.primary.latencyMs,
        checkedAt: health.primary.checkedAt,
        primary: health.primary.status,
        pool: health.primary.pool,
        replicas: health.replicas.map((r) => ({ status: r.status, lagMs: r.lagMs ?? null, fresh: r.fresh })),
      };
    },
    redis: async () => {
      const startedAt = performance.now();
      await Promise.race([
        redis.ping(),
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error('redis ping timed out')), REDIS_PING_TIMEOUT_MS).unref(),
        ),
      ]);
      return { status: 'ok', latencyMs: Math.round((performance.now() - startedAt) * 100) / 100 };
    },
    queue: async () => {
      const counts = consumer ? await consumer.counts() : {};
      if (db.health().primary.status !== 'ok') {
        // The outbox is the primary's: nothing is written to it or read from it until the primary is back, which
        // the database check reports already. The queue itself (Redis) still answers.
        return { status: 'degraded', outbox: 'unavailable while the primary database is down', ...counts };
      }
      const [[backlog], unconfirmed] = await Promise.all([
        db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL'),
        redelivery.unconfirmedBacklog(),
      ]);
      const degraded = (counts.failed ?? 0) >= FAILED_JOBS_DEGRADED || unconfirmed > config.OUTBOX_UNCONFIRMED_DEGRADED;
      return { status: degraded ? 'degraded' : 'ok', outboxBacklog: backlog?.n ?? 0, unconfirmed, ...counts };
    },
  };

  let closed = false;
  return {
    service,
    config,
    logger,
    registry,
    db,
    redis,
    live,
    relay,
    redelivery,
    sweepers,
    checks,
    get consumer() {
      return consumer;
    },
    consume<X extends SqlRunner>(handlers: EventHandlers<X>, options?: ConsumeOptions<X>): EventConsumer<X> {
      // A second consumer would take jobs from the same queue with other handlers; one started late would miss start().
      if (consumer || started) throw new Error(`${service}: consume() is called once, before start()`);
      const built = new EventConsumer<X>({
        // Absent only in the overload whose handlers take a Tx, where no `transaction` is needed.
        ...(options as ConsumeOptions<X>),
        service,
        db,
        connection: redis,
        prefix: config.REDIS_PREFIX,
        logger,
        registry,
        handlers,
        lockDurationMs: config.QUEUE_STALL_MS,
        stalledIntervalMs: config.QUEUE_STALL_MS,
        onApplied: () => relay.kick(),
      });
      consumer = built;
      return built;
    },
    start() {
      started = true;
      relay.start();
      consumer?.start();
      for (const sweeper of sweepers) sweeper.start();
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all(sweepers.map((sweeper) => sweeper.stop()));
      await consumer?.close();
      await relay.stop();
      await live.flush(); // the updates of the last window
      // quit() waits for a Redis that answers: one that is down (or refuses us) would hold the shutdown forever.
      if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
      else redis.disconnect();
      await db.close();
    },
  };
}

/**
 * What each service's `src/composition.ts` builds with its `createXService(config, overrides)`, for index.ts and the
 * test harness alike: the runtime (with the consumer and sweepers the service gave it) and the way to start and stop
 * everything, so that tests run the wiring production runs.
 */
export interface Service {
  runtime: Runtime;
  /** Starts the background work: the runtime's (relay, consumer, sweepers) and any of the service's own. */
  start(): Promise<void>;
  /** Stops what start() started and closes the runtime. */
  close(): Promise<void>;
}

/**
 * A service's express app over its runtime: the common frame (createServiceApp) with the runtime's logger, metrics,
 * health checks and internal token secret, and the service's own document, raw-body paths and routes. Never listens.
 */
export function createRuntimeApp(
  runtime: Runtime,
  options: Pick<ServiceAppOptions, 'openapi' | 'rawBody' | 'bodyLimit'>,
  mount: (app: Express) => void,
): Express {
  return createServiceApp(
    {
      logger: runtime.logger,
      registry: runtime.registry,
      checks: runtime.checks,
      internalTokenSecret: runtime.config.INTERNAL_TOKEN_SECRET,
      ...options,
    },
    mount,
  );
}

/** Composition root helper: check the database, start the service's background work, listen, shut down on SIGTERM. */
export async function serve(service: Service, app: Express, port: number): Promise<void> {
  const { runtime } = service;
  const health = await runtime.db.checkNow();
  if (health.status === 'down') {
    runtime.logger.error('database unreachable at boot; retrying in the background', { error: health.primary.error });
  }
  await service.start();
  await runService({
    app,
    port,
    host: runtime.config.HOST,
    logger: runtime.logger,
    closers: [() => service.close()],
    shutdownTimeoutMs: runtime.config.SHUTDOWN_TIMEOUT_MS,
  });
}
