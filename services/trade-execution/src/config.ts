import { baseServiceSchema, env, loadConfig, z } from '@orrange/config';

export const SCHEMA = 'trade';

export const configSchema = baseServiceSchema.extend({
  PORT: env.port(3003),
});

export type Config = z.infer<typeof configSchema>;

export function readConfig(source: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig(configSchema, source);
}
