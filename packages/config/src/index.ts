import { z } from 'zod';

export { z };

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
      .transform((value) => value.split(',').map((item) => item.trim()).filter(Boolean)),
  nodeEnv: () => z.enum(['development', 'test', 'production']).default('development'),
  postgresUrl: (fallback: string) => z.string().url().default(fallback),
  redisUrl: () => z.string().url().default('redis://127.0.0.1:6379'),
};

const DEV_INTERNAL_SECRET = 'dev-internal-secret-change-me-0123456789abcdef';
const DEV_JWT_KEYRING = 'dev1:dev-jwt-secret-change-me-0123456789abcdefghijkl';

export const DEFAULT_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/orrange';

/** Settings every service shares: where Postgres and Redis are, and how the pool behaves. */
export const baseServiceSchema = z.object({
  NODE_ENV: env.nodeEnv(),
  HOST: z.string().default('0.0.0.0'),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'http', 'debug', 'silent']).default('info'),
  DATABASE_URL: env.postgresUrl(DEFAULT_DATABASE_URL),
  DATABASE_REPLICA_URLS: env.list(''),
  DB_POOL_MAX: env.int(10),
  DB_STATEMENT_TIMEOUT_MS: env.int(5000),
  DB_SLOW_QUERY_MS: env.int(200),
  DB_HEALTH_INTERVAL_MS: env.int(30000),
  REDIS_URL: env.redisUrl(),
  /** Every Redis key and BullMQ queue lives under this prefix (tests use a unique one per run). */
  REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/).default('orrange'),
  /**
   * How long a consumed job stays locked by its worker without a renewal, and how often workers look for jobs
   * whose lock ran out: a crashed worker's jobs go to another one within about this long.
   */
  QUEUE_STALL_MS: z.coerce.number().int().min(1000).default(30_000),
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

/** Refuses to run in production with the development secrets that ship in the defaults. */
export function assertNoDevSecrets(config: { NODE_ENV: string; INTERNAL_TOKEN_SECRET?: string; JWT_SECRETS?: string }): void {
  if (config.NODE_ENV !== 'production') return;
  const bad = [config.INTERNAL_TOKEN_SECRET === DEV_INTERNAL_SECRET && 'INTERNAL_TOKEN_SECRET', config.JWT_SECRETS === DEV_JWT_KEYRING && 'JWT_SECRETS'].filter(Boolean);
  if (bad.length) throw new ConfigError(bad.map((name) => `${name}: the development default must not be used in production`));
}
