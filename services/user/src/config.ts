import { baseServiceSchema, env, loadConfig, z } from '@orrange/config';

export const SCHEMA = 'users';

export const configSchema = baseServiceSchema.extend({
  PORT: env.port(3001),
});

export type Config = z.infer<typeof configSchema>;

export function readConfig(source: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig(configSchema, source);
}
