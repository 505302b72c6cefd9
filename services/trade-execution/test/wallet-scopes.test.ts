import request from 'supertest';
import { signIdentity, type Role, type Scope } from '@orrange/http';
import { balance, fund } from './factories';
import { ADDRESSES, PRODUCTION_CUSTODY } from './custody-helpers';
import { createHarness, type Harness } from './harness';

/** The identity header the gateway forwards for an API key of this user. */
function apiKey(h: Harness, userId: string, scopes: Scope[], roles: Role[] = ['user']): Record<string, string> {
  return {
    'x-orrange-identity': signIdentity(
      { userId, roles, scopes, via: 'api-key' },
      h.runtime.config.INTERNAL_TOKEN_SECRET,
    ),
  };
}

const WITHDRAWAL = { asset: 'USDT', amount: '10', address: ADDRESSES.USDT };

describe('wallet: what API keys may do with money', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness();
  });

  afterAll(() => h.close());

  it.each([
    ['only read', ['read']],
    ['only trade', ['trade']],
    ['read and trade', ['read', 'trade']],
  ] as Array<[string, Scope[]]>)(
    'when an API key with %s asks for a withdrawal, then 403 AUTH.SCOPE_MISSING and nothing moves',
    async (_name, scopes) => {
      await fund(h, 'ks-alice', 'USDT', '100');
      const before = await balance(h, 'ks-alice', 'USDT');
      const res = await request(h.app)
        .post('/api/v1/wallet/withdrawals')
        .set(apiKey(h, 'ks-alice', scopes))
        .send(WITHDRAWAL);
      expect(res.status).toBe(403);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.body.code).toBe('AUTH.SCOPE_MISSING');
      expect(await balance(h, 'ks-alice', 'USDT')).toEqual(before);
    },
  );

  it('when an API key holds the withdraw scope (beside trade), or a session asks, then the withdrawal is taken', async () => {
    await fund(h, 'ks-bob', 'USDT', '100');
    expect(
      (
        await request(h.app)
          .post('/api/v1/wallet/withdrawals')
          .set(apiKey(h, 'ks-bob', ['trade', 'withdraw']))
          .send(WITHDRAWAL)
      ).status,
    ).toBe(201);
    expect((await request(h.app).post('/api/v1/wallet/withdrawals').set(h.as('ks-bob')).send(WITHDRAWAL)).status).toBe(
      201,
    );
    // Two withdrawals of 10, each with the 1 USDT fee.
    expect(await balance(h, 'ks-bob', 'USDT')).toMatchObject({ available: '78.000000' });
  });

  it("when an admin's API key asks for admin reads, then 403 AUTH.SESSION_REQUIRED; the admin's session may", async () => {
    const adminKey = apiKey(h, 'ks-admin', ['read', 'trade', 'withdraw'], ['user', 'admin']);
    for (const path of ['/api/v1/admin/ledger/verify', '/api/v1/admin/stats']) {
      const res = await request(h.app).get(path).set(adminKey);
      expect({ path, status: res.status, code: res.body.code }).toEqual({
        path,
        status: 403,
        code: 'AUTH.SESSION_REQUIRED',
      });
      expect(
        (
          await request(h.app)
            .get(path)
            .set(h.as('ks-admin', ['user', 'admin']))
        ).status,
      ).toBe(200);
    }
  });
});

describe("wallet in production: deposits are the custody integration's, or an admin's in a session", () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness({
      NODE_ENV: 'production',
      TRADE_DB_PASSWORD: 'a-production-db-password',
      INTERNAL_TOKEN_SECRET: 'production-internal-secret-0123456789abcdef',
      ADMIN_PASSWORD: 'a-real-admin-password-for-production',
      ENCRYPTION_KEYS: `prod1:${Buffer.alloc(32, 7).toString('base64')}`,
      ...PRODUCTION_CUSTODY,
    });
  });

  afterAll(() => h.close());

  it("when a user, or an admin's API key, deposits, then 403 WALLET.DEPOSITS_DISABLED and nothing is credited; the admin's session may", async () => {
    const deposit = { asset: 'BTC', amount: '1' };
    const user = await request(h.app).post('/api/v1/wallet/deposits').set(h.as('kp-user')).send(deposit);
    expect(user.status).toBe(403);
    expect(user.body.code).toBe('WALLET.DEPOSITS_DISABLED');
    const adminKey = await request(h.app)
      .post('/api/v1/wallet/deposits')
      .set(apiKey(h, 'kp-admin', ['read', 'trade', 'withdraw'], ['user', 'admin']))
      .send(deposit);
    expect(adminKey.status).toBe(403);
    expect(adminKey.body.code).toBe('WALLET.DEPOSITS_DISABLED');
    expect(await balance(h, 'kp-admin', 'BTC')).toMatchObject({ available: '0.00000000' });
    expect(
      (
        await request(h.app)
          .post('/api/v1/wallet/deposits')
          .set(h.as('kp-admin', ['user', 'admin']))
          .send(deposit)
      ).status,
    ).toBe(201);
    expect(await balance(h, 'kp-admin', 'BTC')).toMatchObject({ available: '1.00000000' });
  });
});
