import {
  assertNoDevSecrets,
  authSchema,
  baseServiceSchema,
  defaultServiceUrl,
  env,
  GATEWAY,
  loadConfig,
  z,
} from '@orrange/config';
import { REVOCATION_LEASE_MS_MAX } from '@orrange/http';
import { CLUSTER_WORKERS_MAX } from '@orrange/runtime/cluster';

/**
 * `trust proxy` as express understands it: `true`/`false`, a hop count, or a list of addresses/subnets
 * (`loopback`, `uniquelocal`, `10.0.0.0/8`). Set explicitly, because `req.ip` keys the rate limits.
 */
const trustProxy = z
  .string()
  .default('loopback')
  .transform((value): boolean | number | string => {
    if (value === 'true' || value === 'false') return value === 'true';
    return /^\d+$/.test(value) ? Number(value) : value;
  });

const urls = (fallback: string) => env.list(fallback).pipe(z.array(z.string().url()).min(1));

/** The gateway has no database: it takes the shared settings without the DB_* ones, plus the auth keyring. */
const shared = baseServiceSchema.pick({
  NODE_ENV: true,
  HOST: true,
  LOG_LEVEL: true,
  REDIS_URL: true,
  REDIS_TLS_CA_FILE: true,
  REDIS_PREFIX: true,
  INTERNAL_TOKEN_SECRET: true,
  SHUTDOWN_TIMEOUT_MS: true,
});

export const configSchema = authSchema.extend(shared.shape).extend({
  PORT: env.port(GATEWAY.port),
  TRUST_PROXY: trustProxy,
  CORS_ORIGINS: env.list(''),
  BODY_LIMIT_BYTES: env.int(1024 * 1024),
  USER_SERVICE_URLS: urls(defaultServiceUrl('user')),
  ORDER_BOOK_SERVICE_URLS: urls(defaultServiceUrl('order-book')),
  TRADE_SERVICE_URLS: urls(defaultServiceUrl('trade-execution')),
  DISPUTE_SERVICE_URLS: urls(defaultServiceUrl('dispute')),
  /**
   * Processes serving the port (node:cluster, see runClustered); 1 = no cluster, the process serves itself.
   * Default 1, not the cores (availableCores()), from a fixed-rate run of a proxied GET on this 2-core
   * machine (2026-12-04, shared with other loads): 2 workers cost 810–930 µs of gateway CPU per request
   * against 530–665 µs for 1 (two event loops each batch less per turn, and each takes its own rate-limit
   * leases from Redis), and 376–382 MB RSS against 150–181 MB, for no capacity gain: both carried 1,000/s,
   * with p99 varying more between runs than between the two. A second event loop only helps when the
   * gateway's one loop is the bottleneck and a core is idle; here Postgres and the four services take the
   * cores long before that (an order costs the stack milliseconds of CPU, the gateway under one). Where the
   * gateway has cores to itself (its own container or machine), set it to their number.
   */
  GATEWAY_WORKERS: z.coerce.number().int().min(1).max(CLUSTER_WORKERS_MAX).default(1),
  UPSTREAM_TIMEOUT_MS: env.int(10_000),
  UPSTREAM_MAX_SOCKETS: env.int(128),
  /**
   * Requests in flight per service and lane (reads, writes) in one gateway process; past it, 503
   * UPSTREAM.OVERLOADED with Retry-After at once instead of a queue (0 = no limit). Twice the lane's sockets
   * of one replica: enough to keep every socket busy with the next request waiting, not a queue of seconds.
   */
  UPSTREAM_MAX_IN_FLIGHT: env.int(256),
  /**
   * The moving-average latency each service lane should keep: past it the lane's in-flight limit shrinks below
   * UPSTREAM_MAX_IN_FLIGHT (and grows back below it), so that under overload the requests admitted keep their
   * latency and the rest get 503 at once. 0 = the fixed limit only.
   */
  UPSTREAM_LATENCY_TARGET_MS: env.int(100),
  /** How often each upstream's /health is probed; 0 turns active probing off (passive checks remain). */
  UPSTREAM_PROBE_INTERVAL_MS: env.int(5_000),
  /** How long a connection error keeps an upstream out of rotation. */
  UPSTREAM_EJECT_MS: env.int(5_000),
  HEALTH_TIMEOUT_MS: env.int(2_000),
  /** One /health report is made at most this often and shared by every request meanwhile (0: one per request). */
  HEALTH_CACHE_MS: env.int(1_000),
  /**
   * How long one answered PING on the invalidation subscriber lets revocation lookups be answered from memory
   * (TrackedCache). At most REVOCATION_LEASE_MS_MAX: the user service waits longer than that after every revocation
   * before it answers. 0: every lookup waits for a PING sent after it began (a Redis round trip per request).
   */
  REVOCATION_LEASE_MS: env.int(REVOCATION_LEASE_MS_MAX).pipe(z.number().max(REVOCATION_LEASE_MS_MAX)),
  /**
   * Bearer token for the operator pages: /metrics, and /health with every check. Unset: open outside production,
   * closed in production (the public /health still answers, with statuses only).
   */
  OPERATOR_TOKEN: z.string().min(32).optional(),
  OPENAPI_CACHE_MS: env.int(30_000),
  RATE_LIMIT_PER_MINUTE: env.int(100),
  AUTH_RATE_LIMIT_PER_MINUTE: env.int(10),
  /** Per account (email) on login; AUTH_RATE_LIMIT_PER_MINUTE when unset. */
  LOGIN_ACCOUNT_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).optional(),
  /** Comment heartbeats on live-update streams (API.md: at least every 15 s); each also renews the stream's slot lease. */
  STREAM_HEARTBEAT_MS: z.coerce.number().int().min(100).max(15_000).default(10_000),
  /** Live-update streams one user may hold open across every gateway replica (API.md: more → 429). */
  STREAMS_PER_USER_MAX: z.coerce.number().int().min(1).default(5),
  API_KEY_CACHE_SECONDS: z.coerce.number().int().min(1).max(10).default(10),
  API_KEY_NEGATIVE_CACHE_SECONDS: z.coerce.number().int().min(1).max(10).default(2),
});

export type Config = Omit<z.infer<typeof configSchema>, 'LOGIN_ACCOUNT_RATE_LIMIT_PER_MINUTE'> & {
  LOGIN_ACCOUNT_RATE_LIMIT_PER_MINUTE: number;
};

/** Reads the gateway's config once at boot and refuses production with the development secrets. */
export function readConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const loaded = loadConfig(configSchema, source);
  assertNoDevSecrets(loaded, source);
  return {
    ...loaded,
    LOGIN_ACCOUNT_RATE_LIMIT_PER_MINUTE:
      loaded.LOGIN_ACCOUNT_RATE_LIMIT_PER_MINUTE ?? loaded.AUTH_RATE_LIMIT_PER_MINUTE,
  };
}
