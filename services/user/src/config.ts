import {
  assertNoDevSecrets,
  databaseRoleSchema,
  authSchema,
  baseServiceSchema,
  DEV_ENCRYPTION_KEYS,
  env,
  loadConfig,
  serviceInfo,
  z,
} from '@orrange/config';
import { FIAT_CURRENCIES, FIAT_SCALE, isPositiveDecimal, toUnits, type FiatCurrency } from '@orrange/money';
import { encryptionSchema } from '@orrange/secrets';

export const SCHEMA = serviceInfo('user').schema;

/** About ten US dollars in each supported currency (late 2026). */
export const REPUTATION_MIN_FIAT_DEFAULT =
  'USD:10,EUR:10,GBP:8,CAD:14,AUD:15,CHF:9,JPY:1500,NGN:15000,INR:850,BRL:55,KES:1300,ZAR:180,GHS:150,MXN:200,ARS:10000,TRY:350,AED:37';

/** Development keyring for payment-method encryption; refused in production (see readConfig). */
export { DEV_ENCRYPTION_KEYS };

export const configSchema = baseServiceSchema
  .extend(databaseRoleSchema('user').shape)
  .extend(authSchema.shape)
  .extend(encryptionSchema.shape)
  .extend({
    PORT: env.port(serviceInfo('user').port),
    /** Refresh tokens expire this many days after they were issued (each rotation issues a new one). */
    REFRESH_TOKEN_TTL_DAYS: z.coerce.number().int().min(1).max(365).default(30),
    /** Password hashes computed at once (argon2id takes 19 MiB each); the rest wait in line. */
    LOGIN_CONCURRENCY_MAX: z.coerce.number().int().min(1).max(64).default(4),
    /** Audit-log rows older than this many days are deleted (0: kept forever). */
    AUDIT_LOG_RETENTION_DAYS: z.coerce.number().int().min(0).max(36_500).default(0),
    /** Hashes allowed to wait for a slot; beyond that a login or registration answers 503 at once. */
    LOGIN_QUEUE_MAX: z.coerce.number().int().min(0).max(10_000).default(200),
    /**
     * The smallest fiat value of a completed trade that counts for reputation, per currency (`FIAT:amount,…`; a
     * currency not listed has no minimum): dust trades between two accounts do not farm it.
     */
    REPUTATION_MIN_FIAT: z
      .string()
      .default(REPUTATION_MIN_FIAT_DEFAULT)
      .transform((spec, ctx) => {
        const minimums = new Map<FiatCurrency, bigint>();
        for (const item of spec
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)) {
          const [fiat = '', amount = ''] = item.split(':').map((s) => s.trim());
          if (
            !(FIAT_CURRENCIES as readonly string[]).includes(fiat) ||
            !isPositiveDecimal(amount, FIAT_SCALE) ||
            minimums.has(fiat as FiatCurrency)
          ) {
            ctx.addIssue({
              code: 'custom',
              message: `"${item}" is not FIAT:amount with a supported currency, once, and at most 2 decimals`,
            });
            return z.NEVER;
          }
          minimums.set(fiat as FiatCurrency, toUnits(amount, FIAT_SCALE));
        }
        return minimums;
      }),
  });

export type Config = z.infer<typeof configSchema>;

/** Reads the user service's config once at boot and refuses production with any development secret. */
export function readConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const config = loadConfig(configSchema, source);
  assertNoDevSecrets(config, source);
  return config;
}
