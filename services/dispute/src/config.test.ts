import { SHARED_DEV_SECRETS } from '@orrange/testing';
import { readConfig } from './config';

const productionSecrets = {
  NODE_ENV: 'production',
  DISPUTE_DB_PASSWORD: 'd'.repeat(32),
  INTERNAL_TOKEN_SECRET: 'p'.repeat(40),
  ENCRYPTION_KEYS: `prod1:${Buffer.alloc(32, 7).toString('base64')}`,
};

describe('dispute config in production', () => {
  it('when production has its own secrets, then it starts', () => {
    expect(readConfig(productionSecrets).NODE_ENV).toBe('production');
  });

  it('when production keeps the development DISPUTE_DB_PASSWORD (unset), then it refuses to start', () => {
    expect(() => readConfig({ ...productionSecrets, DISPUTE_DB_PASSWORD: undefined })).toThrow(/DISPUTE_DB_PASSWORD/);
  });

  it('when production keeps the development ENCRYPTION_KEYS (unset: evidence is sealed under it), then it refuses to start', () => {
    expect(() => readConfig({ ...productionSecrets, ENCRYPTION_KEYS: undefined })).toThrow(/ENCRYPTION_KEYS/);
  });

  it('when production keeps the development INTERNAL_TOKEN_SECRET (unset), then it refuses to start', () => {
    expect(() => readConfig({ NODE_ENV: 'production' })).toThrow(/INTERNAL_TOKEN_SECRET/);
  });

  it.each(SHARED_DEV_SECRETS)(
    'when the environment hands it the development %s, then it refuses to start',
    (name, value) => {
      expect(() => readConfig({ ...productionSecrets, [name]: value })).toThrow(new RegExp(name));
    },
  );
});
