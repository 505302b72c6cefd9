import { assertNoDevSecrets, baseServiceSchema, env, loadConfig, z } from '@orrange/config';
import { encryptionSchema } from '@orrange/secrets';

export const SCHEMA = 'trade';

const BPS_MAX = 10_000;

export const configSchema = baseServiceSchema.extend(encryptionSchema.shape).extend({
  PORT: env.port(3003),
  /** Trade fee in basis points of the crypto amount, taken from the buyer's side into FEES on completion. */
  TRADE_FEE_BPS: z.coerce.number().int().min(0).max(BPS_MAX).default(0),
  /**
   * How long one "minute" of a payment window lasts. Only tests shorten it (e.g. 200 ms, so a 15-minute window
   * passes in 3 s); production refuses anything but 60000.
   */
  PAYMENT_MINUTE_MS: z.coerce.number().int().min(1).max(60_000).default(60_000),
  /** How often the sweeper looks for trades whose payment deadline has passed (deadlines are rows, not jobs). */
  TIMER_SWEEP_MS: z.coerce.number().int().min(50).max(60_000).default(1_000),
}).refine((c) => c.NODE_ENV !== 'production' || c.PAYMENT_MINUTE_MS === 60_000, { message: 'PAYMENT_MINUTE_MS must be 60000 in production', path: ['PAYMENT_MINUTE_MS'] });

export type Config = z.infer<typeof configSchema>;

/** Reads the service's config once at boot and refuses production with any development secret. */
export function readConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const config = loadConfig(configSchema, source);
  assertNoDevSecrets(config, source);
  return config;
}
