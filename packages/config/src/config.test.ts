import {
  assertNoDevSecrets,
  baseServiceSchema,
  ConfigError,
  DEV_ADMIN_PASSWORD,
  DEV_ENCRYPTION_KEYS,
  DEV_JWT_KEYRING,
  DEV_REDIS_PASSWORD,
  env,
  loadConfig,
  redactUrl,
  redisTlsOptions,
  z,
} from './index';

describe('loadConfig', () => {
  it('when the environment is empty, then development defaults apply', () => {
    const config = loadConfig(baseServiceSchema, {});
    expect(config.NODE_ENV).toBe('development');
    expect(config.DB_HEALTH_INTERVAL_MS).toBe(30000);
    expect(config.DATABASE_REPLICA_URLS).toEqual([]);
  });

  it('when HOST is not set, then a service listens on loopback only; it listens wider only when told', () => {
    expect(loadConfig(baseServiceSchema, {}).HOST).toBe('127.0.0.1');
    expect(loadConfig(baseServiceSchema, { HOST: '0.0.0.0' }).HOST).toBe('0.0.0.0');
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

describe('assertNoDevSecrets', () => {
  const real = {
    INTERNAL_TOKEN_SECRET: 'p'.repeat(40),
    JWT_SECRETS: `prod1:${'j'.repeat(40)}`,
    ENCRYPTION_KEYS: `prod1:${Buffer.alloc(32, 7).toString('base64')}`,
    ADMIN_PASSWORD: 'a real admin password',
  };
  const production = (values: Record<string, string>) => ({ NODE_ENV: 'production', ...values });

  it('when production has only real secrets, then nothing is refused', () => {
    expect(() => assertNoDevSecrets(production(real), real)).not.toThrow();
  });

  it('when the environment is not production, then the development secrets are fine', () => {
    expect(() =>
      assertNoDevSecrets(
        { NODE_ENV: 'development', JWT_SECRETS: DEV_JWT_KEYRING },
        { ADMIN_PASSWORD: DEV_ADMIN_PASSWORD },
      ),
    ).not.toThrow();
  });

  it.each([
    ['INTERNAL_TOKEN_SECRET', loadConfig(baseServiceSchema, {}).INTERNAL_TOKEN_SECRET],
    ['JWT_SECRETS', DEV_JWT_KEYRING],
    ['JWT_SECRETS', `prod1:${'j'.repeat(40)}, ${DEV_JWT_KEYRING}`],
    ['JWT_SECRETS', `${DEV_JWT_KEYRING},prod1:${'j'.repeat(40)}`],
    ['JWT_SECRETS', `renamed:${DEV_JWT_KEYRING.split(':')[1]}`],
    ['ENCRYPTION_KEYS', DEV_ENCRYPTION_KEYS],
    ['ENCRYPTION_KEYS', `${real.ENCRYPTION_KEYS},${DEV_ENCRYPTION_KEYS}`],
    ['ADMIN_PASSWORD', DEV_ADMIN_PASSWORD],
    ['REDIS_URL', `redis://:${DEV_REDIS_PASSWORD}@redis:6379`],
    ['REDIS_URL', `rediss://default:${DEV_REDIS_PASSWORD}@redis:6380/1`],
  ])(
    'when production holds the development %s (%s), in its config or only in its environment, then it is refused by name',
    (name, value) => {
      expect(() => assertNoDevSecrets(production({ ...real, [name]: value }))).toThrow(new RegExp(name));
      expect(() => assertNoDevSecrets(production({}), { ...real, [name]: value })).toThrow(ConfigError);
      expect(() => assertNoDevSecrets(production({}), { ...real, [name]: value })).toThrow(new RegExp(name));
    },
  );
});

describe('Redis connection settings', () => {
  it('when REDIS_URL is neither redis:// nor rediss://, then the configuration is refused', () => {
    expect(() => loadConfig(baseServiceSchema, { REDIS_URL: 'http://127.0.0.1:6379' })).toThrow(/REDIS_URL/);
    expect(loadConfig(baseServiceSchema, { REDIS_URL: 'rediss://:secret@cache.internal:6380/2' }).REDIS_URL).toBe(
      'rediss://:secret@cache.internal:6380/2',
    );
  });

  it('when REDIS_URL is redis://, then no TLS is used, and a CA file beside it is refused instead of ignored', () => {
    expect(redisTlsOptions('redis://127.0.0.1:6379')).toEqual({});
    expect(() => redisTlsOptions('redis://127.0.0.1:6379', __filename)).toThrow(
      /REDIS_TLS_CA_FILE is set but REDIS_URL is not rediss:\/\//,
    );
  });

  it('when REDIS_URL is rediss://, then TLS verifies the server, against the CA file when one is given', () => {
    expect(redisTlsOptions('rediss://cache.internal:6380')).toEqual({ tls: {} });
    const { tls } = redisTlsOptions('rediss://cache.internal:6380', __filename);
    expect(tls?.ca).toBeInstanceOf(Buffer);
    expect(tls).not.toHaveProperty('rejectUnauthorized');
  });

  it('when a URL holds a password, then its redacted form does not', () => {
    expect(redactUrl('rediss://user:s3cret@cache:6380/1')).toBe('rediss://user:***@cache:6380/1');
    expect(redactUrl('postgresql://app:pw@db/orrange?sslmode=verify-full')).toBe(
      'postgresql://app:***@db/orrange?sslmode=verify-full',
    );
  });
});
