import request from 'supertest';
import { authRedisKeys, hashApiKey } from '@orrange/http';
import { gatewayIdentity, identity, registerUser, type TestUser } from './fixtures';
import { createHarness, type Harness } from './harness';

describe('users: profiles and roles', () => {
  let harness: Harness;
  let app: ReturnType<Harness['app']>;
  let alice: TestUser;
  let admin: TestUser;

  beforeAll(async () => {
    harness = await createHarness();
    app = harness.app();
    [alice, admin] = await Promise.all([registerUser(app), registerUser(app)]);
    await harness.runtime.db.query("UPDATE users SET roles = ARRAY['user','admin'] WHERE id = $1", [admin!.id]);
  });

  afterAll(() => harness.close());

  const asAlice = () => identity(harness, alice.id);
  const asAdmin = () => identity(harness, admin.id, { roles: ['user', 'admin'] });

  it('when I ask for /users/me, then my account, an empty profile and zeroed stats come back', async () => {
    const res = await request(app).get('/api/v1/users/me').set(asAlice());
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: alice.id,
      email: alice.email,
      username: alice.username,
      roles: ['user'],
      createdAt: expect.any(String),
      profile: { displayName: null, country: null, bio: null },
      stats: {
        tradesCompleted: 0,
        completionRate: null,
        disputesLost: 0,
        feedbackPositive: 0,
        feedbackNegative: 0,
        distinctCounterparties: 0,
        avgPaySeconds: null,
        avgReleaseSeconds: null,
        completionRate30d: null,
      },
    });
  });

  it('when /users/me is asked without identity, or with a forged one, then 401', async () => {
    expect((await request(app).get('/api/v1/users/me')).status).toBe(401);
    expect((await request(app).get('/api/v1/users/me').set('x-orrange-identity', 'forged.jwt.value')).status).toBe(401);
  });

  it('when I patch my profile, then it is stored and null clears a field', async () => {
    const res = await request(app)
      .patch('/api/v1/users/me/profile')
      .set(asAlice())
      .send({ displayName: '  Alice  ', country: 'DE', bio: 'Hello' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ displayName: 'Alice', country: 'DE', bio: 'Hello' });
    const cleared = await request(app).patch('/api/v1/users/me/profile').set(asAlice()).send({ bio: null });
    expect(cleared.body).toEqual({ displayName: 'Alice', country: 'DE', bio: null });
  });

  it.each([
    ['roles', { roles: ['admin'] }],
    ['an id', { id: '00000000-0000-0000-0000-000000000001' }],
    ['a userId', { userId: '00000000-0000-0000-0000-000000000001' }],
    ['an email', { email: 'evil@example.com' }],
    ['a status', { status: 'ACTIVE' }],
    ['stats', { stats: { tradesCompleted: 1000 } }],
  ])('when a profile patch smuggles %s, then 400 and nothing changes', async (_name, extra) => {
    const res = await request(app)
      .patch('/api/v1/users/me/profile')
      .set(asAlice())
      .send({ displayName: 'Mallory', ...extra });
    expect(res.status).toBe(400);
    const me = await request(app).get('/api/v1/users/me').set(asAlice());
    expect(me.body.profile.displayName).not.toBe('Mallory');
    expect(me.body.roles).toEqual(['user']);
    expect(me.body.email).toBe(alice.email);
  });

  it.each([
    ['an unknown country', { country: 'ZZ' }],
    ['a lowercase country', { country: 'de' }],
    ['an oversized bio', { bio: 'x'.repeat(501) }],
    ['an oversized display name', { displayName: 'x'.repeat(65) }],
    ['a control character', { displayName: 'a\u0000b' }],
    ['a numeric display name', { displayName: 42 }],
  ])('when a profile patch has %s, then 400', async (_name, body) => {
    const res = await request(app).patch('/api/v1/users/me/profile').set(asAlice()).send(body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION.FAILED');
  });

  it('when SQL-looking text is put in a profile, then it is stored verbatim and harmless', async () => {
    const sqlish = "Robert'); DROP TABLE users;-- $1 \\x00";
    const res = await request(app)
      .patch('/api/v1/users/me/profile')
      .set(asAlice())
      .send({ displayName: sqlish, bio: "' OR 1=1 --" });
    expect(res.status).toBe(200);
    const pub = await request(app).get(`/api/v1/users/${alice.id}`);
    expect(pub.body.profile).toMatchObject({ displayName: sqlish, bio: "' OR 1=1 --" });
    expect(await harness.runtime.db.query('SELECT count(*)::int AS n FROM users')).toEqual([{ n: 2 }]);
  });

  it('when a body is larger than the 1 MB limit, then 413 and not a 5xx', async () => {
    const res = await request(app)
      .patch('/api/v1/users/me/profile')
      .set(asAlice())
      .set('content-type', 'application/json')
      .send(JSON.stringify({ bio: 'x'.repeat(1_100_000) }));
    expect(res.status).toBe(413);
  });

  it('when anyone asks for a public profile, then it has the stats and no email', async () => {
    const res = await request(app).get(`/api/v1/users/${alice.id}`);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['createdAt', 'id', 'profile', 'stats', 'username']);
    expect(JSON.stringify(res.body)).not.toContain(alice.email);
    expect(res.body.stats).toEqual({
      tradesCompleted: 0,
      completionRate: null,
      disputesLost: 0,
      feedbackPositive: 0,
      feedbackNegative: 0,
      distinctCounterparties: 0,
      avgPaySeconds: null,
      avgReleaseSeconds: null,
      completionRate30d: null,
    });
  });

  it.each(['00000000-0000-4000-8000-000000000000', 'not-a-uuid', "1' OR '1'='1", '%00'])(
    'when the public profile of %s is asked, then 404 USER.NOT_FOUND',
    async (id) => {
      const res = await request(app).get(`/api/v1/users/${encodeURIComponent(id)}`);
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('USER.NOT_FOUND');
    },
  );

  it('when an API key with only the read scope patches the profile, then 403 AUTH.SCOPE_MISSING; with trade it may', async () => {
    const readOnly = identity(harness, alice.id, { via: 'api-key', scopes: ['read'] });
    const denied = await request(app).patch('/api/v1/users/me/profile').set(readOnly).send({ bio: 'by key' });
    expect(denied.status).toBe(403);
    expect(denied.body.code).toBe('AUTH.SCOPE_MISSING');
    expect((await request(app).get('/api/v1/users/me').set(readOnly)).status).toBe(200);
    const trade = identity(harness, alice.id, { via: 'api-key', scopes: ['trade'] });
    expect((await request(app).patch('/api/v1/users/me/profile').set(trade).send({ bio: 'by key' })).status).toBe(200);
  });

  it('when an admin sets roles, then "user" is kept, the change is audited, and older access tokens are refused from now on', async () => {
    const res = await request(app)
      .patch(`/api/v1/admin/users/${alice.id}/roles`)
      .set(asAdmin())
      .send({ roles: ['arbitrator'] });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: alice.id, roles: ['user', 'arbitrator'] });
    // The generation moved on: tokens issued before (with the old roles) are refused by the gateway.
    const [{ token_generation: generation }] = (await harness.runtime.db.query<{ token_generation: number }>(
      'SELECT token_generation FROM users WHERE id = $1',
      [alice.id],
    )) as [{ token_generation: number }];
    expect(
      Number(await harness.runtime.redis.get(authRedisKeys.minGeneration(harness.config.REDIS_PREFIX, alice.id))),
    ).toBe(generation);
    expect(generation).toBeGreaterThan(0);
    const [audit] = await harness.runtime.db.query<{ actor_id: string; metadata: unknown }>(
      "SELECT actor_id, metadata FROM audit_log WHERE action = 'user.roles.changed' AND target_id = $1",
      [alice.id],
    );
    expect(audit).toEqual({ actor_id: admin.id, metadata: { before: ['user'], after: ['user', 'arbitrator'] } });

    // The next refresh carries the new roles.
    const refreshed = await request(app).post('/api/v1/auth/refresh').send({ refreshToken: alice.refreshToken });
    const claims = JSON.parse(Buffer.from(refreshed.body.accessToken.split('.')[1], 'base64url').toString());
    expect(claims.roles).toEqual(['user', 'arbitrator']);
    alice.refreshToken = refreshed.body.refreshToken;

    const demoted = await request(app)
      .patch(`/api/v1/admin/users/${alice.id}/roles`)
      .set(asAdmin())
      .send({ roles: [] });
    expect(demoted.body.roles).toEqual(['user']);
  });

  it('when roles change, then tokens refreshed afterwards carry the new generation, and two racing changes never lower the refused generation', async () => {
    const bob = await registerUser(app);
    await Promise.all(
      [1, 2, 3].map(() =>
        request(app)
          .patch(`/api/v1/admin/users/${bob.id}/roles`)
          .set(asAdmin())
          .send({ roles: ['arbitrator'] })
          .expect(200),
      ),
    );
    const [row] = await harness.runtime.db.query<{ token_generation: number }>(
      'SELECT token_generation FROM users WHERE id = $1',
      [bob.id],
    );
    expect(row!.token_generation).toBe(3);
    expect(await harness.runtime.redis.get(authRedisKeys.minGeneration(harness.config.REDIS_PREFIX, bob.id))).toBe('3');
    const refreshed = await request(app).post('/api/v1/auth/refresh').send({ refreshToken: bob.refreshToken });
    const claims = JSON.parse(Buffer.from(refreshed.body.accessToken.split('.')[1], 'base64url').toString());
    expect(claims).toMatchObject({ gen: 3, roles: ['user', 'arbitrator'] });
  });

  it("when an admin changes roles, then the gateway's cached resolutions of the user's API keys are dropped (they carry the old roles)", async () => {
    const carol = await registerUser(app);
    const key = await request(app)
      .post('/api/v1/users/me/api-keys')
      .set(identity(harness, carol.id))
      .send({ name: 'bot', scopes: ['read'] });
    const cacheKey = authRedisKeys.apiKey(harness.config.REDIS_PREFIX, hashApiKey(key.body.key));
    await harness.runtime.redis.set(
      cacheKey,
      JSON.stringify({ userId: carol.id, roles: ['user'], scopes: ['read'] }),
      'EX',
      10,
    );
    await request(app)
      .patch(`/api/v1/admin/users/${carol.id}/roles`)
      .set(asAdmin())
      .send({ roles: ['arbitrator'] })
      .expect(200);
    expect(await harness.runtime.redis.exists(cacheKey)).toBe(0);
    const resolved = await request(app)
      .post('/internal/api-keys/resolve')
      .set(gatewayIdentity(harness))
      .send({ keyHash: hashApiKey(key.body.key) });
    expect(resolved.body.roles).toEqual(['user', 'arbitrator']);
  });

  it('when a non-admin, an admin API key, or a bad body tries to set roles, then 403 / 400 / 404', async () => {
    expect(
      (
        await request(app)
          .patch(`/api/v1/admin/users/${alice.id}/roles`)
          .set(asAlice())
          .send({ roles: ['admin'] })
      ).status,
    ).toBe(403);
    const adminKey = identity(harness, admin.id, {
      roles: ['user', 'admin'],
      via: 'api-key',
      scopes: ['read', 'trade'],
    });
    expect(
      (
        await request(app)
          .patch(`/api/v1/admin/users/${alice.id}/roles`)
          .set(adminKey)
          .send({ roles: ['admin'] })
      ).status,
    ).toBe(403);
    expect(
      (
        await request(app)
          .patch(`/api/v1/admin/users/${alice.id}/roles`)
          .set(asAdmin())
          .send({ roles: ['superuser'] })
      ).status,
    ).toBe(400);
    expect(
      (
        await request(app)
          .patch(`/api/v1/admin/users/${alice.id}/roles`)
          .set(asAdmin())
          .send({ roles: ['admin'], userId: admin.id })
      ).status,
    ).toBe(400);
    expect(
      (
        await request(app)
          .patch('/api/v1/admin/users/00000000-0000-4000-8000-000000000000/roles')
          .set(asAdmin())
          .send({ roles: [] })
      ).status,
    ).toBe(404);
    expect((await request(app).patch('/api/v1/admin/users/nope/roles').set(asAdmin()).send({ roles: [] })).status).toBe(
      404,
    );
    const me = await request(app).get('/api/v1/users/me').set(asAlice());
    expect(me.body.roles).toEqual(['user']);
  });

  it('when an admin reads the audit log, then pages come newest first with a cursor', async () => {
    const first = await request(app).get('/api/v1/admin/audit?limit=2').set(asAdmin());
    expect(first.status).toBe(200);
    expect(first.body.data).toHaveLength(2);
    expect(typeof first.body.nextCursor).toBe('string');
    const next = await request(app).get(`/api/v1/admin/audit?limit=2&cursor=${first.body.nextCursor}`).set(asAdmin());
    expect(next.status).toBe(200);
    expect(BigInt(next.body.data[0].id)).toBeLessThan(BigInt(first.body.data[1].id));
    expect((await request(app).get('/api/v1/admin/audit').set(asAlice())).status).toBe(403);
    expect((await request(app).get('/api/v1/admin/audit?limit=1000').set(asAdmin())).status).toBe(400);
    expect((await request(app).get('/api/v1/admin/audit?cursor=abc').set(asAdmin())).status).toBe(400);
    const pastBigint = Buffer.from(JSON.stringify({ id: '9999999999999999999' })).toString('base64url');
    expect((await request(app).get(`/api/v1/admin/audit?cursor=${pastBigint}`).set(asAdmin())).status).toBe(400);
  });

  it('when the audit log holds more than ten entries, then paging walks every id once, newest first (ids sort as numbers, not text)', async () => {
    for (let i = 0; i < 12; i++)
      await harness.runtime.db.query(
        `INSERT INTO audit_log (action, metadata) VALUES ('user.registered', '{}'::jsonb)`,
      );
    const seen: bigint[] = [];
    let cursor: string | null = null;
    do {
      const page: request.Response = await request(app)
        .get(`/api/v1/admin/audit?limit=5${cursor ? `&cursor=${cursor}` : ''}`)
        .set(asAdmin());
      expect(page.status).toBe(200);
      seen.push(...page.body.data.map((row: { id: string }) => BigInt(row.id)));
      cursor = page.body.nextCursor;
    } while (cursor);
    const [total] = await harness.runtime.db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_log');
    expect(seen).toHaveLength(total!.n);
    expect(seen.every((id, i) => i === 0 || id < seen[i - 1]!)).toBe(true);
  });

  it('when a page holds exactly the entries left, then it says there is no next page (no empty page after it)', async () => {
    const [total] = await harness.runtime.db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_log');
    expect(total!.n).toBeGreaterThan(1);
    expect(total!.n).toBeLessThanOrEqual(100);
    const all = await request(app).get(`/api/v1/admin/audit?limit=${total!.n}`).set(asAdmin());
    expect(all.body.data).toHaveLength(total!.n);
    expect(all.body.nextCursor).toBeNull();
  });

  it('when an admin disables an account, then its sessions, access tokens and API keys stop at once, and re-enabling lets it log in again', async () => {
    const dave = await registerUser(app);
    const key = await request(app)
      .post('/api/v1/users/me/api-keys')
      .set(identity(harness, dave.id))
      .send({ name: 'k', scopes: ['read'] });
    const cacheKey = authRedisKeys.apiKey(harness.config.REDIS_PREFIX, hashApiKey(key.body.key));
    await harness.runtime.redis.set(cacheKey, '{}', 'EX', 10);

    const res = await request(app)
      .patch(`/api/v1/admin/users/${dave.id}/status`)
      .set(asAdmin())
      .send({ status: 'DISABLED' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: dave.id, status: 'DISABLED' });
    expect((await request(app).post('/api/v1/auth/refresh').send({ refreshToken: dave.refreshToken })).status).toBe(
      401,
    );
    expect(await harness.runtime.redis.exists(authRedisKeys.minGeneration(harness.config.REDIS_PREFIX, dave.id))).toBe(
      1,
    );
    const sessionId = JSON.parse(Buffer.from(dave.accessToken.split('.')[1]!, 'base64url').toString()).sid as string;
    expect(
      await harness.runtime.redis.exists(authRedisKeys.revokedSession(harness.config.REDIS_PREFIX, sessionId)),
    ).toBe(1);
    expect(await harness.runtime.redis.exists(cacheKey)).toBe(0);
    expect(
      (
        await request(app)
          .post('/internal/api-keys/resolve')
          .set(gatewayIdentity(harness))
          .send({ keyHash: hashApiKey(key.body.key) })
      ).status,
    ).toBe(404);
    expect(
      (
        await request(app)
          .post('/api/v1/auth/login')
          .send({ email: dave.email, password: 'correct horse battery staple' })
      ).status,
    ).toBe(401);

    await request(app)
      .patch(`/api/v1/admin/users/${dave.id}/status`)
      .set(asAdmin())
      .send({ status: 'ACTIVE' })
      .expect(200);
    expect(
      (
        await request(app)
          .post('/api/v1/auth/login')
          .send({ email: dave.email, password: 'correct horse battery staple' })
      ).status,
    ).toBe(200);
    expect(
      (await request(app).patch(`/api/v1/admin/users/${dave.id}/status`).set(asAdmin()).send({ status: 'DELETED' }))
        .status,
    ).toBe(400);
    expect(
      (await request(app).patch(`/api/v1/admin/users/${dave.id}/status`).set(asAlice()).send({ status: 'DISABLED' }))
        .status,
    ).toBe(403);
  });
});
