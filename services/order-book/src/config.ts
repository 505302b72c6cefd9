import { assertNoDevSecrets, baseServiceSchema, env, loadConfig, z } from '@orrange/config';

export const SCHEMA = 'order_book';

export const configSchema = baseServiceSchema.extend({
  PORT: env.port(3002),
});

export type Config = z.infer<typeof configSchema>;

/** Reads the service's config once at boot and refuses production with any development secret. */
export function readConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const config = loadConfig(configSchema, source);
  assertNoDevSecrets(config, source);
  return config;
}
