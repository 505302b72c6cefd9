import { Api, login, newUser } from '../src/client';
import { ADMIN, startStack, type Stack } from '../src/stack';

const AUTH_LIMIT = 30;

/**
 * Issue 18 through the whole stack, as a client would meet it at the gateway: limits no path spelling
 * dodges, sessions that end at once, scopes that guard money, admin powers only in a session.
 */
describe('end to end: security', () => {
  let stack: Stack;
  let api: Api;
  let admin: Api;

  beforeAll(async () => {
    stack = await startStack({ env: { AUTH_RATE_LIMIT_PER_MINUTE: String(AUTH_LIMIT) } });
    api = new Api(stack.gatewayUrl);
    admin = await login(api, ADMIN.email, ADMIN.password);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('when login is limited for an address, then no other spelling of the path gets an attempt (429 or 404, never 401)', async () => {
    const from = { 'x-forwarded-for': '198.51.100.7' };
    const guess = { email: 'victim@e2e.test', password: 'wrong-guess' };
    const statuses = [];
    for (let i = 0; i <= AUTH_LIMIT; i++) statuses.push((await api.post('/api/v1/auth/login', guess, from)).status);
    expect(statuses.at(-1)).toBe(429);
    for (const path of [
      '/api/v1/auth/login/',
      '/api/v1/auth/LOGIN',
      '/api/v1/auth/Login',
      '/api/v1/auth//login',
      '/api/v1/auth/%6Cogin',
      '/api/v1/auth/register/',
      '/api/v1/auth/REFRESH',
    ]) {
      const res = await api.post(path, guess, from);
      expect({ path, status: [404, 429].includes(res.status) }).toEqual({ path, status: true });
    }
  });

  it('when a user logs out, then the access token of that session is refused at once; another session goes on', async () => {
    const user = await newUser(api, 'sec');
    const other = await api.post('/api/v1/auth/login', { email: user.email, password: 'correct-horse-battery' });
    expect((await user.api.get('/api/v1/users/me')).status).toBe(200);
    expect((await api.post('/api/v1/auth/logout', { refreshToken: user.refreshToken })).status).toBe(204);
    const after = await user.api.get('/api/v1/users/me');
    expect(after.status).toBe(401);
    expect(after.body.code).toBe('AUTH.INVALID_TOKEN');
    expect((await api.as(other.body.accessToken).get('/api/v1/users/me')).status).toBe(200);
  });

  it("when an admin changes a user's roles, then the user's older token is refused at once, and a refreshed one carries the new roles", async () => {
    const user = await newUser(api, 'role');
    expect((await admin.patch(`/api/v1/admin/users/${user.id}/roles`, { roles: ['arbitrator'] })).status).toBe(200);
    expect((await user.api.get('/api/v1/users/me')).status).toBe(401);
    const refreshed = await api.post('/api/v1/auth/refresh', { refreshToken: user.refreshToken });
    expect(refreshed.status).toBe(200);
    expect((await api.as(refreshed.body.accessToken).get('/api/v1/users/me')).body.roles).toEqual([
      'user',
      'arbitrator',
    ]);
  });

  it('when an API key without the withdraw scope asks for a withdrawal, then 403 and nothing leaves; with it, 201', async () => {
    const user = await newUser(api, 'key');
    expect((await user.api.post('/api/v1/wallet/deposits', { asset: 'USDT', amount: '100' })).status).toBe(201);
    const tradeKey = await user.api.post('/api/v1/users/me/api-keys', { name: 'bot', scopes: ['read', 'trade'] });
    const payoutKey = await user.api.post('/api/v1/users/me/api-keys', {
      name: 'payout',
      scopes: ['trade', 'withdraw'],
    });
    const withdrawal = { asset: 'USDT', amount: '10', address: '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359' };
    const refused = await api.post('/api/v1/wallet/withdrawals', withdrawal, { 'x-api-key': tradeKey.body.key });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('AUTH.SCOPE_MISSING');
    expect((await api.post('/api/v1/wallet/withdrawals', withdrawal, { 'x-api-key': payoutKey.body.key })).status).toBe(
      201,
    );
    const balances = await user.api.get('/api/v1/wallet/balances');
    // 10 withdrawn and the default 1 USDT withdrawal fee.
    expect(balances.body.data.find((b: { asset: string }) => b.asset === 'USDT').available).toBe('89.000000');
  });

  it("when an admin's API key calls admin routes, then 403 AUTH.SESSION_REQUIRED", async () => {
    const key = await admin.post('/api/v1/users/me/api-keys', { name: 'admin-bot', scopes: ['read', 'trade'] });
    const victim = await newUser(api, 'vic');
    const roles = await api.request(
      'PATCH',
      `/api/v1/admin/users/${victim.id}/roles`,
      { roles: ['admin'] },
      { 'x-api-key': key.body.key },
    );
    expect(roles.status).toBe(403);
    expect(roles.body.code).toBe('AUTH.SESSION_REQUIRED');
    expect((await api.get('/api/v1/admin/ledger/verify', { 'x-api-key': key.body.key })).body.code).toBe(
      'AUTH.SESSION_REQUIRED',
    );
  });
});
