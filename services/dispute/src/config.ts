import { baseServiceSchema, env, loadConfig, z } from '@orrange/config';

export const SCHEMA = 'dispute';

export const configSchema = baseServiceSchema.extend({
  PORT: env.port(3004),
});

export type Config = z.infer<typeof configSchema>;

export function readConfig(source: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig(configSchema, source);
}
