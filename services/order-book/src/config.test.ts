import { SHARED_DEV_SECRETS } from '@orrange/testing';
import { readConfig } from './config';

const productionSecrets = {
  NODE_ENV: 'production',
  ORDER_BOOK_DB_PASSWORD: 'd'.repeat(32),
  INTERNAL_TOKEN_SECRET: 'p'.repeat(40),
};

describe('order-book config in production', () => {
  it('when production has its own secrets, then it starts', () => {
    expect(readConfig(productionSecrets).NODE_ENV).toBe('production');
  });

  it('when production keeps the development ORDER_BOOK_DB_PASSWORD (unset), then it refuses to start', () => {
    expect(() => readConfig({ ...productionSecrets, ORDER_BOOK_DB_PASSWORD: undefined })).toThrow(
      /ORDER_BOOK_DB_PASSWORD/,
    );
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
