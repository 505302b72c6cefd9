import { baseServiceSchema, env, loadConfig, z } from '@orrange/config';

export const SCHEMA = 'trade';

const BPS_MAX = 10_000;

export const configSchema = baseServiceSchema.extend({
  PORT: env.port(3003),
  /** Trade fee in basis points of the crypto amount, taken from the buyer's side into FEES on completion. */
  TRADE_FEE_BPS: z.coerce.number().int().min(0).max(BPS_MAX).default(0),
});

export type Config = z.infer<typeof configSchema>;

export function readConfig(source: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig(configSchema, source);
}
