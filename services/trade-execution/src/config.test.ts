import { SHARED_DEV_SECRETS } from '@orrange/testing';
import { DEV_CUSTODY_WEBHOOK_SECRET, readConfig } from './config';

const productionSecrets = {
  NODE_ENV: 'production',
  TRADE_DB_PASSWORD: 'd'.repeat(32),
  INTERNAL_TOKEN_SECRET: 'p'.repeat(40),
  CUSTODY_PROVIDER: 'http',
  CUSTODY_URL: 'https://custody.example',
  CUSTODY_API_KEY: 'custody-key',
  CUSTODY_WEBHOOK_SECRET: 'w'.repeat(40),
  ENCRYPTION_KEYS: `prod1:${Buffer.alloc(32, 7).toString('base64')}`,
};

describe('trade-execution config in production', () => {
  it('when production has its own secrets, then it starts', () => {
    expect(readConfig(productionSecrets).NODE_ENV).toBe('production');
  });

  it('when production keeps the development TRADE_DB_PASSWORD (unset), then it refuses to start', () => {
    expect(() => readConfig({ ...productionSecrets, TRADE_DB_PASSWORD: undefined })).toThrow(/TRADE_DB_PASSWORD/);
  });

  it('when production keeps the development ENCRYPTION_KEYS (unset: chat is sealed under it), then it refuses to start', () => {
    expect(() => readConfig({ ...productionSecrets, ENCRYPTION_KEYS: undefined })).toThrow(/ENCRYPTION_KEYS/);
  });

  it('when production keeps the development INTERNAL_TOKEN_SECRET (unset), then it refuses to start', () => {
    expect(() => readConfig({ ...productionSecrets, INTERNAL_TOKEN_SECRET: undefined })).toThrow(
      /INTERNAL_TOKEN_SECRET/,
    );
  });

  it.each(SHARED_DEV_SECRETS)(
    'when the environment hands it the development %s, then it refuses to start',
    (name, value) => {
      expect(() => readConfig({ ...productionSecrets, [name]: value })).toThrow(new RegExp(name));
    },
  );
});

describe('trade-execution custody config', () => {
  it('when nothing is set, then the simulated custody runs with the documented per-asset defaults', () => {
    const config = readConfig({});
    expect(config.CUSTODY_PROVIDER).toBe('simulated');
    expect(config.DEPOSIT_CONFIRMATIONS).toEqual({ BTC: 2, ETH: 12, USDT: 12, USDC: 12 });
    expect(config.WITHDRAWAL_FEES).toEqual({ BTC: 20_000n, ETH: 200_000n, USDT: 1_000_000n, USDC: 1_000_000n });
    expect(config.WITHDRAWAL_DAILY_MAX.USDT).toBe(100_000_000_000n);
  });

  it.each([
    ['the simulated custody', { CUSTODY_PROVIDER: 'simulated' }, /CUSTODY_PROVIDER/],
    [
      'the development webhook secret',
      { CUSTODY_WEBHOOK_SECRET: DEV_CUSTODY_WEBHOOK_SECRET },
      /CUSTODY_WEBHOOK_SECRET/,
    ],
  ])('when production is given %s, then it refuses to start', (_name, values, message) => {
    expect(() => readConfig({ ...productionSecrets, ...values })).toThrow(message);
  });

  it.each([
    ['the http custody without its URL', { CUSTODY_PROVIDER: 'http', CUSTODY_API_KEY: 'k' }],
    ['an asset missing from a list', { WITHDRAWAL_DAILY_MAX: 'BTC:1,ETH:1,USDT:1' }],
    ['an asset named twice', { WITHDRAWAL_FEES: 'BTC:1,BTC:2,ETH:1,USDT:1,USDC:1' }],
    ['more decimals than the asset has', { WITHDRAWAL_AUTO_APPROVE_MAX: 'BTC:0.000000001,ETH:1,USDT:1,USDC:1' }],
    ['an unknown asset', { DEPOSIT_CONFIRMATIONS: 'BTC:1,ETH:1,USDT:1,USDC:1,DOGE:1' }],
    ['zero confirmations', { DEPOSIT_CONFIRMATIONS: 'BTC:0,ETH:1,USDT:1,USDC:1' }],
    ['a zero daily limit', { WITHDRAWAL_DAILY_MAX: 'BTC:0,ETH:1,USDT:1,USDC:1' }],
  ])('when the environment has %s, then the config is refused', (_name, values) => {
    expect(() => readConfig(values)).toThrow();
  });
});
