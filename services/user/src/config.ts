import { assertNoDevSecrets, authSchema, baseServiceSchema, DEV_ENCRYPTION_KEYS, env, loadConfig, z } from '@orrange/config';
import { encryptionSchema } from '@orrange/secrets';

export const SCHEMA = 'users';

/** Development keyring for payment-method encryption; refused in production (see readConfig). */
export { DEV_ENCRYPTION_KEYS };

export const configSchema = baseServiceSchema.extend(authSchema.shape).extend(encryptionSchema.shape).extend({
  PORT: env.port(3001),
  /** Refresh tokens expire this many days after they were issued (each rotation issues a new one). */
  REFRESH_TOKEN_TTL_DAYS: z.coerce.number().int().min(1).max(365).default(30),
  /** Password hashes computed at once (argon2id takes 19 MiB each); the rest wait in line. */
  LOGIN_CONCURRENCY_MAX: z.coerce.number().int().min(1).max(64).default(4),
  /** Hashes allowed to wait for a slot; beyond that a login or registration answers 503 at once. */
  LOGIN_QUEUE_MAX: z.coerce.number().int().min(0).max(10_000).default(200),
});

export type Config = z.infer<typeof configSchema>;

/** Reads the user service's config once at boot and refuses production with any development secret. */
export function readConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const config = loadConfig(configSchema, source);
  assertNoDevSecrets(config, source);
  return config;
}
