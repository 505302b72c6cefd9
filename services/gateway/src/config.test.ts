import { ConfigError, DEV_JWT_KEYRING } from '@orrange/config';
import { readConfig } from './config';

describe('gateway config', () => {
  it('when nothing is set, then the development defaults apply', () => {
    const config = readConfig({});
    expect(config).toMatchObject({
      PORT: 8080,
      HOST: '127.0.0.1',
      TRUST_PROXY: 'loopback',
      BODY_LIMIT_BYTES: 1024 * 1024,
      RATE_LIMIT_PER_MINUTE: 100,
      AUTH_RATE_LIMIT_PER_MINUTE: 10,
      UPSTREAM_TIMEOUT_MS: 10_000,
      USER_SERVICE_URLS: ['http://127.0.0.1:3001'],
      DISPUTE_SERVICE_URLS: ['http://127.0.0.1:3004'],
      CORS_ORIGINS: [],
    });
  });

  it('when the live-update settings are left alone, then heartbeats come every 10 s and 5 streams per user; a heartbeat beyond 15 s is refused', () => {
    expect(readConfig({})).toMatchObject({ STREAM_HEARTBEAT_MS: 10_000, STREAMS_PER_USER_MAX: 5 });
    expect(() => readConfig({ STREAM_HEARTBEAT_MS: '20000' })).toThrow(ConfigError);
    expect(() => readConfig({ STREAMS_PER_USER_MAX: '0' })).toThrow(ConfigError);
  });

  it("when a revocation lease longer than the user service's settle time is asked, then it is refused; 0 turns it off", () => {
    expect(readConfig({}).REVOCATION_LEASE_MS).toBe(100);
    expect(readConfig({ REVOCATION_LEASE_MS: '0' }).REVOCATION_LEASE_MS).toBe(0);
    expect(() => readConfig({ REVOCATION_LEASE_MS: '101' })).toThrow(ConfigError);
  });

  it('when only AUTH_RATE_LIMIT_PER_MINUTE is set, then the per-account login limit follows it', () => {
    expect(readConfig({ AUTH_RATE_LIMIT_PER_MINUTE: '50' }).LOGIN_ACCOUNT_RATE_LIMIT_PER_MINUTE).toBe(50);
    expect(
      readConfig({ AUTH_RATE_LIMIT_PER_MINUTE: '50', LOGIN_ACCOUNT_RATE_LIMIT_PER_MINUTE: '5' })
        .LOGIN_ACCOUNT_RATE_LIMIT_PER_MINUTE,
    ).toBe(5);
  });

  it.each([
    ['true', true],
    ['false', false],
    ['2', 2],
    ['loopback, 10.0.0.0/8', 'loopback, 10.0.0.0/8'],
  ])('when TRUST_PROXY is %s, then express gets %p', (value, expected) => {
    expect(readConfig({ TRUST_PROXY: value }).TRUST_PROXY).toEqual(expected);
  });

  it('when several upstreams are listed, then each is kept; a malformed one is refused', () => {
    expect(
      readConfig({ ORDER_BOOK_SERVICE_URLS: 'http://ob-1:3002, http://ob-2:3002' }).ORDER_BOOK_SERVICE_URLS,
    ).toEqual(['http://ob-1:3002', 'http://ob-2:3002']);
    expect(() => readConfig({ ORDER_BOOK_SERVICE_URLS: 'not a url' })).toThrow(ConfigError);
  });

  it('when production runs with the development secrets, then the gateway refuses to start', () => {
    expect(() => readConfig({ NODE_ENV: 'production' })).toThrow(/INTERNAL_TOKEN_SECRET|JWT_SECRETS/);
  });

  it("when production's JWT keyring holds the development key beside a real one, then the gateway refuses to start", () => {
    const real = { NODE_ENV: 'production', INTERNAL_TOKEN_SECRET: 'p'.repeat(40) };
    expect(readConfig({ ...real, JWT_SECRETS: `prod1:${'j'.repeat(40)}` }).NODE_ENV).toBe('production');
    expect(() =>
      readConfig({
        ...real,
        JWT_SECRETS: `prod1:${'j'.repeat(40)},${DEV_JWT_KEYRING}`,
      }),
    ).toThrow(/JWT_SECRETS/);
    expect(() =>
      readConfig({ ...real, JWT_SECRETS: `prod1:${'j'.repeat(40)}`, ADMIN_PASSWORD: 'orrange-admin-dev-password' }),
    ).toThrow(/ADMIN_PASSWORD/);
  });

  it('when an API-key cache TTL over 10 s is asked, then it is refused', () => {
    expect(() => readConfig({ API_KEY_CACHE_SECONDS: '60' })).toThrow(ConfigError);
  });
});
