import request from 'supertest';
import { API_KEY_CACHE, authRedisKeys, hashApiKey } from '@orrange/http';
import { gatewayIdentity, identity, registerUser, type TestUser } from './fixtures';
import { createHarness, type Harness } from './harness';

describe('API keys', () => {
  let harness: Harness;
  let app: ReturnType<Harness['app']>;
  let alice: TestUser;
  let bob: TestUser;

  beforeAll(async () => {
    harness = await createHarness();
    app = harness.app();
    [alice, bob] = await Promise.all([registerUser(app), registerUser(app)]);
  });

  afterAll(() => harness.close());

  const asAlice = () => identity(harness, alice.id);
  const create = (body: object, who = asAlice()) => request(app).post('/api/v1/users/me/api-keys').set(who).send(body);
  const resolve = (keyHash: string) =>
    request(app).post('/internal/api-keys/resolve').set(gatewayIdentity(harness)).send({ keyHash });

  it('when I create a key, then it is shown once, stored only as its hash, and resolvable by the gateway', async () => {
    const res = await create({ name: 'bot', scopes: ['trade', 'read'] });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String),
      name: 'bot',
      scopes: ['read', 'trade'],
      createdAt: expect.any(String),
      key: expect.stringMatching(/^orr_[A-Za-z0-9_-]{43}$/),
    });
    const rows = await harness.testDb.query<{ row: string }>('SELECT row_to_json(k)::text AS row FROM api_keys k');
    expect(rows.some(({ row }) => row.includes(res.body.key))).toBe(false);
    expect(rows.some(({ row }) => row.includes(hashApiKey(res.body.key)))).toBe(true);

    const resolved = await resolve(hashApiKey(res.body.key));
    expect(resolved.status).toBe(200);
    expect(resolved.body).toEqual({ userId: alice.id, roles: ['user'], scopes: ['read', 'trade'] });

    const list = await request(app).get('/api/v1/users/me/api-keys').set(asAlice());
    expect(list.status).toBe(200);
    expect(list.body.data).toEqual([
      {
        id: res.body.id,
        name: 'bot',
        scopes: ['read', 'trade'],
        createdAt: expect.any(String),
        lastUsedAt: expect.any(String),
      },
    ]);
    expect(JSON.stringify(list.body)).not.toContain(res.body.key);
  });

  it('when a key asks for the withdraw scope, then it must hold trade beside it (400 otherwise, in the API and in the database)', async () => {
    const alone = await create({ name: 'withdraw-only', scopes: ['withdraw'] });
    expect(alone.status).toBe(400);
    expect(alone.body.code).toBe('VALIDATION.FAILED');
    const withTrade = await create({ name: 'payout-bot', scopes: ['withdraw', 'trade'] });
    expect(withTrade.status).toBe(201);
    expect(withTrade.body.scopes).toEqual(['trade', 'withdraw']);
    expect((await resolve(hashApiKey(withTrade.body.key))).body.scopes).toEqual(['trade', 'withdraw']);
    await expect(
      harness.testDb.query(
        "INSERT INTO api_keys (user_id, name, scopes, key_hash) VALUES ($1, 'x', ARRAY['withdraw'], 'h-withdraw-only')",
        [alice.id],
      ),
    ).rejects.toThrow(/api_keys_scopes_valid/);
  });

  it("when an admin's API key calls admin routes, then 403 AUTH.SESSION_REQUIRED", async () => {
    const adminKey = identity(harness, bob.id, {
      roles: ['user', 'admin'],
      via: 'api-key',
      scopes: ['read', 'trade', 'withdraw'],
    });
    const roles = await request(app)
      .patch(`/api/v1/admin/users/${alice.id}/roles`)
      .set(adminKey)
      .send({ roles: ['admin'] });
    expect({ status: roles.status, code: roles.body.code }).toEqual({ status: 403, code: 'AUTH.SESSION_REQUIRED' });
    const status = await request(app)
      .patch(`/api/v1/admin/users/${alice.id}/status`)
      .set(adminKey)
      .send({ status: 'DISABLED' });
    expect({ status: status.status, code: status.body.code }).toEqual({ status: 403, code: 'AUTH.SESSION_REQUIRED' });
    expect((await request(app).get('/api/v1/users/me').set(identity(harness, alice.id))).body.roles).toEqual(['user']);
  });

  it('when a key is resolved again within a minute, then lastUsedAt is not rewritten', async () => {
    const { body } = await create({ name: 'throttle', scopes: ['read'] });
    await resolve(hashApiKey(body.key));
    const [first] = await harness.testDb.query<{ at: Date }>('SELECT last_used_at AS at FROM api_keys WHERE id = $1', [
      body.id,
    ]);
    await resolve(hashApiKey(body.key));
    const [second] = await harness.testDb.query<{ at: Date }>('SELECT last_used_at AS at FROM api_keys WHERE id = $1', [
      body.id,
    ]);
    expect(first!.at).toBeInstanceOf(Date);
    expect(second!.at.getTime()).toBe(first!.at.getTime());
  });

  it.each([
    ['no scopes', { name: 'x', scopes: [] }],
    ['an unknown scope', { name: 'x', scopes: ['admin'] }],
    ['a smuggled userId', { name: 'x', scopes: ['read'], userId: '00000000-0000-4000-8000-000000000000' }],
    ['an oversized name', { name: 'x'.repeat(65), scopes: ['read'] }],
    ['no name', { scopes: ['read'] }],
  ])('when a key is requested with %s, then 400', async (_name, body) => {
    expect((await create(body)).status).toBe(400);
  });

  it('when an API key (not a session) tries to manage keys, then 403 AUTH.SESSION_REQUIRED', async () => {
    const byKey = identity(harness, alice.id, { via: 'api-key', scopes: ['read', 'trade'] });
    const res = await create({ name: 'minted by a key', scopes: ['read'] }, byKey);
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('AUTH.SESSION_REQUIRED');
    expect((await request(app).get('/api/v1/users/me/api-keys').set(byKey)).status).toBe(403);
  });

  it('when I revoke my key, then 204, resolve answers 404, and the gateway cache entry is gone', async () => {
    const { body } = await create({ name: 'to revoke', scopes: ['read'] });
    const keyHash = hashApiKey(body.key);
    const cacheKey = authRedisKeys.apiKey(harness.config.REDIS_PREFIX, keyHash);
    await harness.runtime.redis.set(
      cacheKey,
      JSON.stringify({ userId: alice.id, roles: ['user'], scopes: ['read'] }),
      'EX',
      10,
    );

    const res = await request(app).delete(`/api/v1/users/me/api-keys/${body.id}`).set(asAlice());
    expect(res.status).toBe(204);
    expect(await harness.runtime.redis.exists(cacheKey)).toBe(0);
    // A gateway that asked before the revocation (and read no mark then) cannot cache the answer it got.
    const mark = authRedisKeys.apiKeyForgotten(harness.config.REDIS_PREFIX, keyHash);
    expect(await harness.runtime.redis.eval(API_KEY_CACHE, 2, cacheKey, mark, '', '{}', 10)).toBe(0);
    expect(await harness.runtime.redis.exists(cacheKey)).toBe(0);
    expect((await resolve(keyHash)).status).toBe(404);
    expect((await request(app).delete(`/api/v1/users/me/api-keys/${body.id}`).set(asAlice())).status).toBe(404);
    const audit = await harness.runtime.db.query<{ action: string }>(
      'SELECT action FROM audit_log WHERE target_id = $1 ORDER BY id',
      [body.id],
    );
    expect(audit.map((a) => a.action)).toEqual(['api-key.created', 'api-key.revoked']);
  });

  it("when I try to revoke someone else's key, then 404 and it keeps working", async () => {
    const { body } = await create({ name: "bob's", scopes: ['read'] }, identity(harness, bob.id));
    expect((await request(app).delete(`/api/v1/users/me/api-keys/${body.id}`).set(asAlice())).status).toBe(404);
    expect((await request(app).delete('/api/v1/users/me/api-keys/not-a-uuid').set(asAlice())).status).toBe(404);
    expect((await resolve(hashApiKey(body.key))).status).toBe(200);
  });

  it('when the owner is disabled, then resolve answers 404', async () => {
    const carol = await registerUser(app);
    const { body } = await create({ name: 'carol', scopes: ['read'] }, identity(harness, carol.id));
    await harness.runtime.db.query("UPDATE users SET status = 'DISABLED' WHERE id = $1", [carol.id]);
    expect((await resolve(hashApiKey(body.key))).status).toBe(404);
  });

  it('when resolve is called by a user, without identity, or with a malformed hash, then 403 / 401 / 400', async () => {
    expect(
      (
        await request(app)
          .post('/internal/api-keys/resolve')
          .set(asAlice())
          .send({ keyHash: 'a'.repeat(64) })
      ).status,
    ).toBe(403);
    expect(
      (
        await request(app)
          .post('/internal/api-keys/resolve')
          .send({ keyHash: 'a'.repeat(64) })
      ).status,
    ).toBe(401);
    expect((await resolve("' OR 1=1 --")).status).toBe(400);
    expect((await resolve('a'.repeat(64))).status).toBe(404);
  });

  it('when audit rows are read back, then none contains an API key', async () => {
    const rows = await harness.runtime.db.query<{ row: string }>('SELECT row_to_json(a)::text AS row FROM audit_log a');
    for (const { row } of rows) expect(row).not.toMatch(/orr_[A-Za-z0-9_-]{20,}/);
  });
});
