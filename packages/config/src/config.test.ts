import { baseServiceSchema, ConfigError, env, loadConfig, z } from './index';

describe('loadConfig', () => {
  it('when the environment is empty, then development defaults apply', () => {
    const config = loadConfig(baseServiceSchema, {});
    expect(config.NODE_ENV).toBe('development');
    expect(config.DB_HEALTH_INTERVAL_MS).toBe(30000);
    expect(config.DATABASE_REPLICA_URLS).toEqual([]);
  });

  it('when a variable is malformed, then a ConfigError names it', () => {
    expect(() => loadConfig(baseServiceSchema, { DB_POOL_MAX: 'lots' })).toThrow(ConfigError);
    expect(() => loadConfig(baseServiceSchema, { DB_POOL_MAX: 'lots' })).toThrow(/DB_POOL_MAX/);
  });

  it('when lists and booleans are given, then they are parsed', () => {
    const schema = z.object({ ORIGINS: env.list(''), ON: env.bool(false) });
    expect(loadConfig(schema, { ORIGINS: 'a, b,,c', ON: 'true' })).toEqual({ ORIGINS: ['a', 'b', 'c'], ON: true });
  });
});
