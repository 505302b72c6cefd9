import { z } from 'zod';
import { DEV_REDIS_PASSWORD, redisPassword } from './connection-security';
import { isPostgresUrl } from './postgres-url';
import { DEV_DATABASE_PASSWORDS } from './database-roles';

export { z };
export { defaultServiceUrl, GATEWAY, serviceInfo, SERVICES, type ServiceInfo, type ServiceName } from './services';
export { DEV_REDIS_PASSWORD, redactUrl, readPemFile, redisPassword, redisTlsOptions } from './connection-security';
export { editPostgresUrl, firstHostOnly, hostsOf, isPostgresUrl, type HostPort } from './postgres-url';
export {
  asServiceRole,
  databaseRoleSchema,
  asMigrationRole,
  DATABASE_ROLES,
  DEV_DATABASE_PASSWORDS,
  devDatabasePassword,
  ensureDatabaseRoles,
  grantMigrationRole,
  MIGRATION_ROLE,
  rolePasswordsFrom,
  serviceDatabaseUrls,
  type RoleQueryable,
} from './database-roles';

/** Thrown when the environment does not satisfy a service's config schema; names every bad variable. */
export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid configuration:\n  ${issues.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Reads a typed config object from the environment once, at boot. Factories take the result as an
 * argument, so tests build config objects directly and never touch process.env.
 */
export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`));
  }
  return result.data;
}

/** Shared building blocks for config schemas. */
export const env = {
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  int: (fallback: number) => z.coerce.number().int().min(0).default(fallback),
  bool: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0'])
      .default(fallback ? 'true' : 'false')
      .transform((value) => value === 'true' || value === '1'),
  list: (fallback: string) =>
    z
      .string()
      .default(fallback)
      .transform((value) =>
        value
          .split(',')
          .map((item) => item.trim())
          .filter(Boolean),
      ),
  nodeEnv: () => z.enum(['development', 'test', 'production']).default('development'),
  /** One host, or several for failover (`postgresql://user@h1:5432,h2:5433/db`, see hostsOf). */
  postgresUrl: (fallback: string) =>
    z
      .string()
      .default(fallback)
      .refine(isPostgresUrl, 'must be a postgres:// URL (several hosts: host1:port1,host2:port2)'),
  redisUrl: () =>
    z
      .string()
      .url()
      .regex(/^rediss?:\/\//, 'must be redis:// or rediss://')
      .default('redis://127.0.0.1:6379'),
};

/**
 * The development secrets that ship as defaults (and in `.env.example`). Every service refuses each of them
 * with NODE_ENV=production: see assertNoDevSecrets.
 */
const DEV_INTERNAL_SECRET = 'dev-internal-secret-change-me-0123456789abcdef';
const DEV_JWT_SECRET = 'dev-jwt-secret-change-me-0123456789abcdefghijkl';
/** Development keyring for access tokens (user service signs, gateway verifies). */
export const DEV_JWT_KEYRING = `dev1:${DEV_JWT_SECRET}`;
const DEV_ENCRYPTION_KEY = 'ZGV2LW9ubHktcGF5bWVudC1tZXRob2Qta2V5LTMyYnk=';
/** Development keyring for payment-method encryption (user service). */
export const DEV_ENCRYPTION_KEYS = `dev1:${DEV_ENCRYPTION_KEY}`;
/** The bootstrap admin's development password (`pnpm db:seed` without ADMIN_PASSWORD). */
export const DEV_ADMIN_PASSWORD = 'orrange-admin-dev-password';

export const DEFAULT_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/orrange';

/** Settings every service shares: where Postgres and Redis are, and how the pool behaves. */
export const baseServiceSchema = z.object({
  NODE_ENV: env.nodeEnv(),
  /**
   * Loopback unless told otherwise: a service trusts the identity header of anyone who holds the internal
   * secret, so only the gateway is meant to be reachable. Compose sets 0.0.0.0 on its private network.
   */
  HOST: z.string().min(1).default('127.0.0.1'),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'http', 'debug', 'silent']).default('info'),
  /** The server, database and administrator; a service connects to it as its own role (see database-roles.ts). */
  DATABASE_URL: env.postgresUrl(DEFAULT_DATABASE_URL),
  /** Streaming replicas (comma-separated URLs) for the reads that tolerate lag (see Database.queryRead). */
  DATABASE_REPLICA_URLS: env.list(''),
  /** A replica further behind the primary than this serves no read while the primary answers. */
  REPLICA_LAG_MAX_MS: env.int(1000),
  /** How often each replica's lag (and health) is measured. */
  REPLICA_CHECK_INTERVAL_MS: env.int(1000),
  DB_POOL_MAX: env.int(10),
  DB_STATEMENT_TIMEOUT_MS: env.int(5000),
  DB_SLOW_QUERY_MS: env.int(200),
  DB_HEALTH_INTERVAL_MS: env.int(30000),
  REDIS_URL: env.redisUrl(),
  /** A PEM file of the certificate authority that signed the Redis server's certificate (with rediss:// only). */
  REDIS_TLS_CA_FILE: z
    .string()
    .optional()
    .transform((value) => value || undefined),
  /** Every Redis key and BullMQ queue lives under this prefix (tests use a unique one per run). */
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,64}$/)
    .default('orrange'),
  /**
   * How long a consumed job stays locked by its worker without a renewal, and how often workers look for jobs
   * whose lock ran out: a crashed worker's jobs go to another one within about this long.
   */
  QUEUE_STALL_MS: z.coerce.number().int().min(1000).default(30_000),
  /**
   * An event its consumers have not recorded in their inbox this long after it was handed to Redis is published
   * again (Redis may lose what it was given); the sweep runs every sixth of it, at most every 5 s.
   */
  OUTBOX_REDELIVER_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
  /** /health says `degraded` while more events than this are past OUTBOX_REDELIVER_MS unconfirmed. */
  OUTBOX_UNCONFIRMED_DEGRADED: env.int(0),
  /** Signs the identity the gateway forwards to services (see @orrange/http identity). */
  INTERNAL_TOKEN_SECRET: z.string().min(32).default(DEV_INTERNAL_SECRET),
  SHUTDOWN_TIMEOUT_MS: env.int(10000),
});

export type BaseServiceConfig = z.infer<typeof baseServiceSchema>;

/** Access-token settings shared by the user service (signs) and the gateway (verifies). */
export const authSchema = z.object({
  /** `kid:secret` pairs, comma-separated, each secret ≥ 32 characters; the first (or JWT_ACTIVE_KID) signs. */
  JWT_SECRETS: z.string().default(DEV_JWT_KEYRING),
  JWT_ACTIVE_KID: z.string().optional(),
  JWT_ISSUER: z.string().default('orrange'),
  JWT_AUDIENCE: z.string().default('orrange-api'),
  ACCESS_TOKEN_TTL_SECONDS: env.int(900),
});

/** The secrets of a `kid:secret,kid:secret` keyring (JWT_SECRETS, ENCRYPTION_KEYS), as parseKeyring reads them. */
function keyringSecrets(spec: string): string[] {
  return spec
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => entry.slice(entry.indexOf(':') + 1).trim());
}

/** Each variable that may hold a development secret, and whether a value holds one. */
const DEV_SECRET_CHECKS: Array<[name: string, isDevelopment: (value: string) => boolean]> = [
  ['INTERNAL_TOKEN_SECRET', (value) => value.trim() === DEV_INTERNAL_SECRET],
  // A keyring is refused when any of its keys is the development one, even beside real keys: it would still verify
  // (or decrypt) whatever the publicly known key signs.
  ['JWT_SECRETS', (value) => keyringSecrets(value).includes(DEV_JWT_SECRET)],
  ['ENCRYPTION_KEYS', (value) => keyringSecrets(value).includes(DEV_ENCRYPTION_KEY)],
  ['ADMIN_PASSWORD', (value) => value === DEV_ADMIN_PASSWORD],
  ['REDIS_URL', (value) => redisPassword(value) === DEV_REDIS_PASSWORD],
  ...DEV_DATABASE_PASSWORDS.map(([name, devPassword]): [string, (value: string) => boolean] => [
    name,
    (value) => value === devPassword,
  ]),
];

/**
 * Refuses to run in production with any development secret: the ones a service uses (its parsed config, where
 * a missing variable means the development default) and the ones it was merely handed (the environment, e.g.
 * a shared `.env` whose JWT keyring or admin password is still the development one). Call it in every
 * service's readConfig.
 */
export function assertNoDevSecrets(
  config: { NODE_ENV: string } & Partial<Record<string, unknown>>,
  source: NodeJS.ProcessEnv = {},
): void {
  if (config.NODE_ENV !== 'production') return;
  const bad = DEV_SECRET_CHECKS.filter(([name, isDevelopment]) => {
    const values = [config[name], source[name]].filter((value): value is string => typeof value === 'string');
    return values.some(isDevelopment);
  }).map(([name]) => name);
  if (bad.length)
    throw new ConfigError(
      bad.map((name) => `${name}: a development secret must not be used in production (set a real one)`),
    );
}
