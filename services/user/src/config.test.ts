import { DEV_JWT_KEYRING } from '@orrange/config';
import { DEV_ENCRYPTION_KEYS, readConfig } from './config';

const productionSecrets = {
  NODE_ENV: 'production',
  USER_DB_PASSWORD: 'd'.repeat(32),
  INTERNAL_TOKEN_SECRET: 'p'.repeat(40),
  JWT_SECRETS: `prod1:${'j'.repeat(40)}`,
  ENCRYPTION_KEYS: `prod1:${Buffer.alloc(32, 7).toString('base64')}`,
};

describe('user service config', () => {
  it('when nothing is set, then development defaults apply', () => {
    const config = readConfig({});
    expect(config).toMatchObject({
      PORT: 3001,
      REFRESH_TOKEN_TTL_DAYS: 30,
      LOGIN_CONCURRENCY_MAX: 4,
      ACCESS_TOKEN_TTL_SECONDS: 900,
      ENCRYPTION_KEYS: DEV_ENCRYPTION_KEYS,
    });
  });

  it('when production has its own secrets, then it starts', () => {
    expect(readConfig(productionSecrets).NODE_ENV).toBe('production');
  });

  it.each(['INTERNAL_TOKEN_SECRET', 'JWT_SECRETS', 'ENCRYPTION_KEYS', 'USER_DB_PASSWORD'])(
    'when production keeps the development %s, then it refuses to start',
    (name) => {
      const source: NodeJS.ProcessEnv = { ...productionSecrets };
      delete source[name];
      expect(() => readConfig(source)).toThrow(new RegExp(name));
    },
  );
});

describe('user service config: development keys beside real ones', () => {
  it.each([
    ['ENCRYPTION_KEYS', `${productionSecrets.ENCRYPTION_KEYS},${DEV_ENCRYPTION_KEYS}`],
    ['JWT_SECRETS', `${productionSecrets.JWT_SECRETS},${DEV_JWT_KEYRING}`],
    ['ADMIN_PASSWORD', 'orrange-admin-dev-password'],
  ])("when production's %s holds the development key beside a real one, then it refuses to start", (name, value) => {
    expect(() => readConfig({ ...productionSecrets, [name]: value })).toThrow(new RegExp(name));
  });
});
