import request from 'supertest';
import {
  authRedisKeys,
  verifyAccessToken,
  parseKeyring,
  REVOCATION_SETTLE_MS,
  REVOCATION_TTL_MARGIN_SECONDS,
} from '@orrange/http';
import { PasswordHasher } from '../src/domain/password-hasher';
import { hashRefreshToken } from '../src/domain/secrets';
import { purgeOnce } from '../src/messaging/housekeeping';
import { PASSWORD, registerUser } from './fixtures';
import { createHarness, type Harness } from './harness';

describe('auth: register, login, refresh, logout', () => {
  let harness: Harness;
  let hasher: PasswordHasher;
  let app: ReturnType<Harness['app']>;

  beforeAll(async () => {
    harness = await createHarness();
    hasher = new PasswordHasher({ concurrencyMax: 4, waitingMax: 100 });
    app = harness.app({ hasher });
  });

  afterAll(() => harness.close());

  const settings = () => ({
    keyring: parseKeyring(harness.config.JWT_SECRETS),
    issuer: harness.config.JWT_ISSUER,
    audience: harness.config.JWT_AUDIENCE,
  });

  it("when a user registers, logs in and refreshes, then each access token names its session (the refresh-token family) and the user's generation", async () => {
    const user = await registerUser(app);
    const registered = verifyAccessToken(user.accessToken, settings());
    const [family] = await harness.testDb.query<{ family_id: string }>(
      'SELECT family_id FROM refresh_tokens WHERE user_id = $1',
      [user.id],
    );
    expect(registered).toMatchObject({ sessionId: family!.family_id, generation: 0 });
    const login = await request(app).post('/api/v1/auth/login').send({ email: user.email, password: PASSWORD });
    const loggedIn = verifyAccessToken(login.body.accessToken, settings());
    expect(loggedIn.sessionId).not.toBe(registered.sessionId);
    const refreshed = await request(app).post('/api/v1/auth/refresh').send({ refreshToken: login.body.refreshToken });
    expect(verifyAccessToken(refreshed.body.accessToken, settings())).toMatchObject({
      sessionId: loggedIn.sessionId,
      generation: 0,
    });
  });

  it('when a user registers, then a session comes back with a verifiable access token and the email stored lowercased', async () => {
    const res = await request(app)
      .post('/api/v1/auth/register')
      .send({ email: 'Alice.Smith@Example.COM', username: 'Alice_1', password: PASSWORD });
    expect(res.status).toBe(201);
    expect(res.body.user).toEqual({
      id: expect.any(String),
      email: 'alice.smith@example.com',
      username: 'Alice_1',
      roles: ['user'],
      createdAt: expect.any(String),
    });
    expect(res.body.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const claims = verifyAccessToken(res.body.accessToken, settings());
    expect(claims.userId).toBe(res.body.user.id);
    expect(claims.roles).toEqual(['user']);
    const header = JSON.parse(Buffer.from(res.body.accessToken.split('.')[0], 'base64url').toString());
    expect(header).toEqual({ alg: 'HS256', typ: 'JWT', kid: 'dev1' });

    const [stored] = await harness.runtime.db.query<{ password_hash: string }>(
      'SELECT password_hash FROM users WHERE id = $1',
      [res.body.user.id],
    );
    expect(stored!.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    const tokens = await harness.testDb.query<{ token_hash: string }>(
      'SELECT token_hash FROM refresh_tokens WHERE user_id = $1',
      [res.body.user.id],
    );
    expect(tokens).toEqual([{ token_hash: hashRefreshToken(res.body.refreshToken) }]);
  });

  it('when the same email registers again in another case, or the username in another case, then 409 USER.ALREADY_EXISTS', async () => {
    const user = await registerUser(app);
    const sameEmail = await request(app)
      .post('/api/v1/auth/register')
      .send({ email: user.email.toUpperCase(), username: 'someone_else', password: PASSWORD });
    expect(sameEmail.status).toBe(409);
    expect(sameEmail.body.code).toBe('USER.ALREADY_EXISTS');
    const sameName = await request(app)
      .post('/api/v1/auth/register')
      .send({ email: 'other@example.com', username: user.username.toUpperCase(), password: PASSWORD });
    expect(sameName.status).toBe(409);
    expect(sameName.body.code).toBe('USER.ALREADY_EXISTS');
  });

  it('when two registrations of one email race, then exactly one wins and the other is a 409', async () => {
    const body = (username: string) => ({ email: 'race@example.com', username, password: PASSWORD });
    const results = await Promise.all([
      request(app).post('/api/v1/auth/register').send(body('racer_a')),
      request(app).post('/api/v1/auth/register').send(body('racer_b')),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
  });

  it.each([
    ['roles smuggled in', { roles: ['admin'] }],
    ['an id smuggled in', { id: '00000000-0000-0000-0000-000000000001' }],
    ['a status smuggled in', { status: 'ACTIVE' }],
  ])('when register carries %s, then 400 and nothing is created', async (_name, extra) => {
    const res = await request(app)
      .post('/api/v1/auth/register')
      .send({ email: 'smuggler@example.com', username: 'smuggler', password: PASSWORD, ...extra });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION.FAILED');
    expect(await harness.runtime.db.query("SELECT 1 FROM users WHERE email = 'smuggler@example.com'")).toHaveLength(0);
  });

  it.each([
    ['a short password', { password: 'short' }],
    ['a 129-character password', { password: 'x'.repeat(129) }],
    ['a 2-character username', { username: 'ab' }],
    ['a 33-character username', { username: 'a'.repeat(33) }],
    ['a SQL-looking username', { username: "x'; DROP TABLE users;--" }],
    ['a username with a dash', { username: 'a-b-c' }],
    ['a malformed email', { email: 'not-an-email' }],
    ['an oversized email', { email: `${'a'.repeat(300)}@example.com` }],
    ['a numeric password', { password: 12345678 }],
  ])('when register has %s, then 400', async (_name, change) => {
    const res = await request(app)
      .post('/api/v1/auth/register')
      .send({ email: 'valid@example.com', username: 'valid_name', password: PASSWORD, ...change });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toContain('application/problem+json');
  });

  it('when a user logs in with the email in another case, then a session comes back and the login is audited', async () => {
    const user = await registerUser(app);
    const res = await request(app)
      .post('/api/v1/auth/login')
      .set('X-Request-Id', 'req-login-1')
      .send({ email: user.email.toUpperCase(), password: PASSWORD });
    expect(res.status).toBe(200);
    expect(res.body.user.id).toBe(user.id);
    expect(verifyAccessToken(res.body.accessToken, settings()).userId).toBe(user.id);
    const audit = await harness.runtime.db.query<{ actor_id: string; request_id: string; ip: string }>(
      "SELECT actor_id, request_id, ip FROM audit_log WHERE action = 'auth.login.succeeded' AND target_id = $1",
      [user.id],
    );
    expect(audit).toEqual([{ actor_id: user.id, request_id: 'req-login-1', ip: expect.any(String) }]);
  });

  it('when the password is wrong, the email unknown, or the account disabled, then the same 401, and every path ran the password verifier', async () => {
    const user = await registerUser(app);
    const disabled = await registerUser(app);
    await harness.runtime.db.query("UPDATE users SET status = 'DISABLED' WHERE id = $1", [disabled.id]);
    const verify = jest.spyOn(hasher, 'verify');
    try {
      const attempts = [
        { email: user.email, password: 'wrong password!' },
        { email: 'nobody-here@example.com', password: PASSWORD },
        { email: disabled.email, password: PASSWORD },
      ];
      for (const body of attempts) {
        const res = await request(app).post('/api/v1/auth/login').send(body);
        expect(res.status).toBe(401);
        expect(res.body).toMatchObject({ code: 'AUTH.INVALID_CREDENTIALS', detail: 'The email or password is wrong.' });
      }
      expect(verify).toHaveBeenCalledTimes(3);
      // The unknown email was checked against the dummy argon2id hash, with the same costs.
      expect(verify.mock.calls[1]![0]).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    } finally {
      verify.mockRestore();
    }
    const failures = await harness.runtime.db.query<{ metadata: { reason: string } }>(
      "SELECT metadata FROM audit_log WHERE action = 'auth.login.failed' ORDER BY id",
    );
    expect(failures.map((f) => f.metadata.reason)).toEqual(
      expect.arrayContaining(['wrong-password', 'unknown-email', 'disabled']),
    );
  });

  it('when a refresh token is used, then it rotates: a new pair comes back and the old one is spent', async () => {
    const user = await registerUser(app);
    const first = await request(app).post('/api/v1/auth/refresh').send({ refreshToken: user.refreshToken });
    expect(first.status).toBe(200);
    expect(first.body.refreshToken).not.toBe(user.refreshToken);
    expect(verifyAccessToken(first.body.accessToken, settings()).userId).toBe(user.id);
    const second = await request(app).post('/api/v1/auth/refresh').send({ refreshToken: first.body.refreshToken });
    expect(second.status).toBe(200);
  });

  it('when a rotated refresh token is reused, then 401, the whole family is revoked, the reuse audited, and the gateway told to refuse older access tokens', async () => {
    const user = await registerUser(app);
    const rotated = await request(app).post('/api/v1/auth/refresh').send({ refreshToken: user.refreshToken });
    expect(rotated.status).toBe(200);

    const reuse = await request(app).post('/api/v1/auth/refresh').send({ refreshToken: user.refreshToken });
    expect(reuse.status).toBe(401);
    expect(reuse.body.code).toBe('AUTH.INVALID_REFRESH_TOKEN');

    // The legitimate-looking newest token of the family is dead too.
    const newest = await request(app).post('/api/v1/auth/refresh').send({ refreshToken: rotated.body.refreshToken });
    expect(newest.status).toBe(401);
    const live = await harness.testDb.query('SELECT 1 FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL', [
      user.id,
    ]);
    expect(live).toHaveLength(0);

    // The session's access tokens are refused by the gateway from now on, for as long as any can live.
    const sessionId = verifyAccessToken(user.accessToken, settings()).sessionId;
    expect(verifyAccessToken(rotated.body.accessToken, settings()).sessionId).toBe(sessionId);
    const key = authRedisKeys.revokedSession(harness.config.REDIS_PREFIX, sessionId);
    expect(await harness.runtime.redis.get(key)).toBe('1');
    const ttl = await harness.runtime.redis.ttl(key);
    expect(ttl).toBeGreaterThan(harness.config.ACCESS_TOKEN_TTL_SECONDS);
    expect(ttl).toBeLessThanOrEqual(harness.config.ACCESS_TOKEN_TTL_SECONDS + REVOCATION_TTL_MARGIN_SECONDS);
    expect(
      await harness.runtime.db.query(
        "SELECT 1 FROM audit_log WHERE action = 'auth.refresh.reused' AND target_id = $1",
        [user.id],
      ),
    ).toHaveLength(1);
  });

  it('when two requests race with one refresh token, then exactly one rotates it', async () => {
    const user = await registerUser(app);
    const results = await Promise.all(
      [1, 2].map(() => request(app).post('/api/v1/auth/refresh').send({ refreshToken: user.refreshToken })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 401]);
  });

  it('when a refresh token has expired, or is unknown, then 401 and nothing is revoked', async () => {
    const user = await registerUser(app);
    await harness.testDb.query(
      "UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE user_id = $1",
      [user.id],
    );
    const expired = await request(app).post('/api/v1/auth/refresh').send({ refreshToken: user.refreshToken });
    expect(expired.status).toBe(401);
    const unknown = await request(app).post('/api/v1/auth/refresh').send({ refreshToken: 'not-a-token' });
    expect(unknown.status).toBe(401);
    const sessionId = verifyAccessToken(user.accessToken, settings()).sessionId;
    expect(
      await harness.runtime.redis.exists(authRedisKeys.revokedSession(harness.config.REDIS_PREFIX, sessionId)),
    ).toBe(0);
    expect(await harness.runtime.redis.exists(authRedisKeys.minGeneration(harness.config.REDIS_PREFIX, user.id))).toBe(
      0,
    );
  });

  it('when a disabled user refreshes, then 401 and the family is revoked', async () => {
    const user = await registerUser(app);
    await harness.runtime.db.query("UPDATE users SET status = 'DISABLED' WHERE id = $1", [user.id]);
    const res = await request(app).post('/api/v1/auth/refresh').send({ refreshToken: user.refreshToken });
    expect(res.status).toBe(401);
    expect(
      await harness.testDb.query('SELECT 1 FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL', [user.id]),
    ).toHaveLength(0);
  });

  it("when a user logs out, then 204, the refresh token no longer works, and the session's access tokens are revoked at once; logging out an unknown token is also 204", async () => {
    const user = await registerUser(app);
    const other = await request(app).post('/api/v1/auth/login').send({ email: user.email, password: PASSWORD });
    const startedAt = performance.now();
    const out = await request(app).post('/api/v1/auth/logout').send({ refreshToken: user.refreshToken });
    expect(out.status).toBe(204);
    // Answered only once no gateway's lease can still vouch for a PING sent before the revocation was written.
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(REVOCATION_SETTLE_MS - 1);
    const revoked = (token: string) =>
      harness.runtime.redis.exists(
        authRedisKeys.revokedSession(harness.config.REDIS_PREFIX, verifyAccessToken(token, settings()).sessionId),
      );
    expect(await revoked(user.accessToken)).toBe(1);
    // Another session of the same user (another device) goes on.
    expect(await revoked(other.body.accessToken)).toBe(0);
    expect(
      (await request(app).post('/api/v1/auth/refresh').send({ refreshToken: other.body.refreshToken })).status,
    ).toBe(200);
    expect((await request(app).post('/api/v1/auth/refresh').send({ refreshToken: user.refreshToken })).status).toBe(
      401,
    );
    expect((await request(app).post('/api/v1/auth/logout').send({ refreshToken: 'whatever' })).status).toBe(204);
    expect(
      (await request(app).post('/api/v1/auth/logout').send({ refreshToken: user.refreshToken, userId: user.id }))
        .status,
    ).toBe(400);
  });

  it('when audit rows are read back, then none contains a password or token', async () => {
    const rows = await harness.runtime.db.query<{ row: string }>('SELECT row_to_json(a)::text AS row FROM audit_log a');
    expect(rows.length).toBeGreaterThan(5);
    for (const { row } of rows) {
      expect(row).not.toContain(PASSWORD);
      expect(row).not.toContain('wrong password!');
      expect(row).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
      expect(row.toLowerCase()).not.toContain('argon2');
    }
  });

  it.each([
    ['a JSON array', '[]'],
    ['JSON null', 'null'],
    ['malformed JSON', '{"email": '],
    ['a string', '"hello"'],
  ])('when register gets %s, then 400 problem+json, never a 5xx', async (_name, raw) => {
    const res = await request(app).post('/api/v1/auth/register').set('content-type', 'application/json').send(raw);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toContain('application/problem+json');
  });

  it('when login gets a prototype-polluting body, then 400 and nothing is polluted', async () => {
    const res = await request(app)
      .post('/api/v1/auth/login')
      .set('content-type', 'application/json')
      .send('{"email":"a@example.com","password":"12345678","__proto__":{"roles":["admin"]}}');
    expect(res.status).toBe(400);
    expect(({} as Record<string, unknown>).roles).toBeUndefined();
  });

  it('when housekeeping runs, then only tokens expired or revoked over a day ago are deleted; rotated live ones stay for reuse detection', async () => {
    const user = await registerUser(app);
    const rotated = await request(app).post('/api/v1/auth/refresh').send({ refreshToken: user.refreshToken });
    const other = await registerUser(app);
    await harness.testDb.query("UPDATE refresh_tokens SET expires_at = now() - interval '2 days' WHERE user_id = $1", [
      other.id,
    ]);
    await purgeOnce(harness.store, harness.runtime.logger);
    expect(await harness.testDb.query('SELECT 1 FROM refresh_tokens WHERE user_id = $1', [other.id])).toHaveLength(0);
    expect(await harness.testDb.query('SELECT 1 FROM refresh_tokens WHERE user_id = $1', [user.id])).toHaveLength(2);
    expect((await request(app).post('/api/v1/auth/refresh').send({ refreshToken: user.refreshToken })).status).toBe(
      401,
    );
    expect(
      (await request(app).post('/api/v1/auth/refresh').send({ refreshToken: rotated.body.refreshToken })).status,
    ).toBe(401);
  });
});
