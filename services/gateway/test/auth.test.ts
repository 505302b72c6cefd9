import { generateKeyPairSync, randomUUID } from 'node:crypto';
import express from 'express';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import {
  API_KEY_FORGET,
  authRedisKeys,
  forgetApiKeysArgs,
  hashApiKey,
  IDENTITY_HEADER,
  verifyIdentity,
  type Identity,
} from '@orrange/http';
import { eventually } from '@orrange/testing';
import {
  accessToken,
  closedUrl,
  createTestGateway,
  createTestRedis,
  revocationSettled,
  startStub,
  type StubUpstream,
  type TestGateway,
  type TestRedis,
} from './harness';

const b64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('gateway authentication', () => {
  let testRedis: TestRedis;
  let user: StubUpstream;
  let gateway: TestGateway;
  const apiKeys = new Map<string, { userId: string; roles: string[]; scopes: string[] }>();
  const resolveCalls: Array<{ keyHash: string; caller: Identity }> = [];
  /** The next resolution of these key hashes is answered only when its promise settles. */
  const heldAnswers = new Map<string, Promise<void>>();

  beforeAll(async () => {
    testRedis = await createTestRedis();
    user = await startStub('user', (app) => {
      app.post('/internal/api-keys/resolve', express.json(), (req, res) => {
        const caller = verifyIdentity(req.header(IDENTITY_HEADER) ?? '', gateway.config.INTERNAL_TOKEN_SECRET);
        resolveCalls.push({ keyHash: req.body.keyHash, caller });
        // Read first, answered once the test lets it go: an answer read before a revocation, arriving after it.
        const found = apiKeys.get(req.body.keyHash);
        const answer = () => {
          if (!found) return res.status(404).type('application/problem+json').send('{"code":"API_KEY.NOT_FOUND"}');
          res.json(found);
        };
        const gate = heldAnswers.get(req.body.keyHash);
        heldAnswers.delete(req.body.keyHash);
        if (gate) void gate.then(answer);
        else answer();
      });
    });
    gateway = createTestGateway(testRedis, { user: [user.url] });
  });

  afterAll(async () => {
    await gateway.close();
    await user.close();
    await testRedis.cleanup();
  });

  const settings = () => ({
    secret: gateway.config.JWT_SECRETS.split(',')[0]!.split(':').slice(1).join(':'),
    kid: gateway.config.JWT_SECRETS.split(':')[0]!,
  });
  const claims = () => ({
    sub: 'u-hostile',
    roles: ['user'],
    jti: 'j-1',
    sid: randomUUID(),
    gen: 0,
    iss: gateway.config.JWT_ISSUER,
    aud: gateway.config.JWT_AUDIENCE,
  });
  const sign = (payload: object, options: jwt.SignOptions = {}, secret = settings().secret) =>
    jwt.sign(payload, secret, { algorithm: 'HS256', keyid: settings().kid, expiresIn: 900, ...options });

  async function expectRefused(token: string) {
    const before = user.seen.length;
    const res = await request(gateway.app).get('/api/v1/users/me').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.body.code).toBe('AUTH.INVALID_TOKEN');
    expect(user.seen.length).toBe(before);
  }

  it('when the token is well formed and signed by the active key, then the request passes with its identity', async () => {
    const res = await request(gateway.app)
      .get('/api/v1/users/me')
      .set('Authorization', `Bearer ${sign(claims())}`);
    expect(res.status).toBe(200);
    expect(verifyIdentity(res.body.identity, gateway.config.INTERNAL_TOKEN_SECRET)).toMatchObject({
      userId: 'u-hostile',
      via: 'jwt',
      scopes: null,
    });
  });

  it('when the token says alg none, then 401', async () => {
    const unsigned = `${b64url({ alg: 'none', typ: 'JWT', kid: settings().kid })}.${b64url({ ...claims(), exp: Math.floor(Date.now() / 1000) + 900, iat: Math.floor(Date.now() / 1000) })}.`;
    await expectRefused(unsigned);
  });

  it('when the token is RS256 (HS/RS confusion), or HS256 keyed with a public key, then 401', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await expectRefused(
      jwt.sign(claims(), privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, {
        algorithm: 'RS256',
        keyid: settings().kid,
        expiresIn: 900,
      }),
    );
    await expectRefused(sign(claims(), {}, publicKey.export({ type: 'spki', format: 'pem' }) as string));
  });

  it('when the signature is wrong, then 401', async () => {
    await expectRefused(sign(claims(), {}, 'another-secret-that-is-long-enough-0123456789'));
    const valid = sign(claims());
    await expectRefused(`${valid.slice(0, -4)}AAAA`);
  });

  it('when the token has expired, then 401', async () => {
    const past = Math.floor(Date.now() / 1000) - 3600;
    await expectRefused(
      jwt.sign({ ...claims(), iat: past, exp: past + 60 }, settings().secret, {
        algorithm: 'HS256',
        keyid: settings().kid,
      }),
    );
  });

  it('when aud or iss is not ours, then 401', async () => {
    await expectRefused(sign({ ...claims(), aud: 'someone-else' }));
    await expectRefused(sign({ ...claims(), iss: 'evil-issuer' }));
  });

  it('when the key id is unknown or missing, then 401', async () => {
    await expectRefused(sign(claims(), { keyid: 'rotated-away' }));
    await expectRefused(jwt.sign(claims(), settings().secret, { algorithm: 'HS256', expiresIn: 900 }));
  });

  it('when the token claims a role that does not exist, or lacks a subject, then 401', async () => {
    await expectRefused(sign({ ...claims(), roles: ['superuser'] }));
    const { sub: _sub, ...withoutSubject } = claims();
    await expectRefused(sign(withoutSubject));
  });

  it('when the Authorization header is not a bearer token, then 401', async () => {
    const res = await request(gateway.app).get('/api/v1/users/me').set('Authorization', 'Basic dXNlcjpwYXNz');
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('AUTH.INVALID_TOKEN');
  });

  it("when the user's token generation was raised after the token was issued (role change, disabled), then 401; tokens of the new generation pass", async () => {
    const token = accessToken(gateway.config, 'u-disabled', ['user'], { generation: 4 });
    await testRedis.redis.set(authRedisKeys.minGeneration(gateway.config.REDIS_PREFIX, 'u-disabled'), '5', 'EX', 900);
    await revocationSettled();
    await expectRefused(token);
    const newer = accessToken(gateway.config, 'u-disabled', ['user'], { generation: 5 });
    expect((await request(gateway.app).get('/api/v1/users/me').set('Authorization', `Bearer ${newer}`)).status).toBe(
      200,
    );
  });

  it('when a token already used is revoked, then the next request with it is refused at once', async () => {
    const token = sign({ ...claims(), sub: 'u-revoked-later' });
    await request(gateway.app).get('/api/v1/users/me').set('Authorization', `Bearer ${token}`).expect(200);
    await testRedis.redis.set(
      authRedisKeys.minGeneration(gateway.config.REDIS_PREFIX, 'u-revoked-later'),
      '1',
      'EX',
      900,
    );
    await revocationSettled();
    await expectRefused(token);
  });

  it("when its session is ended (logout), then the token is refused at once, in the same second it was issued; the user's other sessions go on", async () => {
    const sessionId = randomUUID();
    const token = accessToken(gateway.config, 'u-logout', ['user'], { sessionId });
    const otherSession = accessToken(gateway.config, 'u-logout');
    await request(gateway.app).get('/api/v1/users/me').set('Authorization', `Bearer ${token}`).expect(200);
    await testRedis.redis.set(authRedisKeys.revokedSession(gateway.config.REDIS_PREFIX, sessionId), '1', 'EX', 900);
    await revocationSettled();
    await expectRefused(token);
    // Even a token of that session signed after the revocation (same second, or a clock behind) is refused.
    await expectRefused(accessToken(gateway.config, 'u-logout', ['user'], { sessionId }));
    expect(
      (await request(gateway.app).get('/api/v1/users/me').set('Authorization', `Bearer ${otherSession}`)).status,
    ).toBe(200);
  });

  it('when a token carries no session or no generation, then 401 (it could not be revoked)', async () => {
    const { sid: _sid, ...withoutSession } = claims();
    const { gen: _gen, ...withoutGeneration } = claims();
    await expectRefused(sign(withoutSession));
    await expectRefused(sign(withoutGeneration));
  });

  it("when a session is ended through one gateway replica's Redis, then every replica refuses its token at once", async () => {
    const replica = createTestGateway(testRedis, { user: [user.url] });
    try {
      const sessionId = randomUUID();
      const token = accessToken(gateway.config, 'u-replicas', ['user'], { sessionId });
      for (const app of [gateway.app, replica.app])
        await request(app).get('/api/v1/users/me').set('Authorization', `Bearer ${token}`).expect(200);
      await testRedis.redis.set(authRedisKeys.revokedSession(gateway.config.REDIS_PREFIX, sessionId), '1', 'EX', 900);
      await revocationSettled();
      for (const app of [gateway.app, replica.app])
        expect((await request(app).get('/api/v1/users/me').set('Authorization', `Bearer ${token}`)).status).toBe(401);
    } finally {
      await replica.close();
    }
  });

  it('when a token already used expires, then it is refused even though it was verified before', async () => {
    const token = sign({ ...claims(), sub: 'u-short' }, { expiresIn: 1 });
    await request(gateway.app).get('/api/v1/users/me').set('Authorization', `Bearer ${token}`).expect(200);
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    await expectRefused(token);
  });

  describe('API keys', () => {
    it('when a key is valid, then the identity carries its scopes and the answer is cached in Redis for at most 10 s', async () => {
      const key = 'ork_live_read_only_0001';
      apiKeys.set(hashApiKey(key), { userId: 'u-key', roles: ['user'], scopes: ['read'] });
      const calls = resolveCalls.length;
      const first = await request(gateway.app).get('/api/v1/users/me').set('X-API-Key', key);
      expect(first.status).toBe(200);
      expect(verifyIdentity(first.body.identity, gateway.config.INTERNAL_TOKEN_SECRET)).toEqual({
        userId: 'u-key',
        roles: ['user'],
        scopes: ['read'],
        via: 'api-key',
      });
      expect(resolveCalls.length).toBe(calls + 1);
      expect(resolveCalls.at(-1)).toMatchObject({
        keyHash: hashApiKey(key),
        caller: { userId: 'gateway', roles: [], scopes: null, via: 'service' },
      });

      await request(gateway.app).get('/api/v1/users/me').set('X-API-Key', key).expect(200);
      expect(resolveCalls.length).toBe(calls + 1);
      const ttl = await testRedis.redis.ttl(authRedisKeys.apiKey(gateway.config.REDIS_PREFIX, hashApiKey(key)));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(10);
    });

    it("when a key is in use, then its resolution is answered from the gateway's memory, with no Redis GET per request", async () => {
      const key = 'ork_live_tracked_0006';
      apiKeys.set(hashApiKey(key), { userId: 'u-key', roles: ['user'], scopes: ['read'] });
      await eventually(async () => gateway.resources.trackedCache.state.tracking);
      const lookups = async (result: string) =>
        (await gateway.registry.getSingleMetric('gateway_tracked_cache_lookups_total')!.get()).values.find(
          (v) => v.labels.result === result,
        )?.value ?? 0;
      // The first request resolves the key and writes the answer, the second reads it (a GET, then tracked).
      for (let i = 0; i < 2; i++) await request(gateway.app).get('/api/v1/users/me').set('X-API-Key', key).expect(200);
      const [hits, misses] = [await lookups('hit'), await lookups('miss')];
      for (let i = 0; i < 5; i++) await request(gateway.app).get('/api/v1/users/me').set('X-API-Key', key).expect(200);
      expect([await lookups('hit'), await lookups('miss')]).toEqual([hits + 5, misses]);
    });

    it('when the key is revoked, then it stops working once the user service has deleted the cache entry and waited for the gateways to see it', async () => {
      const key = 'ork_live_to_revoke_0002';
      const keyHash = hashApiKey(key);
      apiKeys.set(keyHash, { userId: 'u-key', roles: ['user'], scopes: ['read', 'trade'] });
      await request(gateway.app).post('/api/v1/users/me/api-keys').set('X-API-Key', key).expect(200);
      await request(gateway.app).post('/api/v1/users/me/api-keys').set('X-API-Key', key).expect(200);
      apiKeys.delete(keyHash);
      // As the user service revokes (forgetApiKeyResolutions): the entry deleted, the answer after the settle time.
      await testRedis.redis.eval(API_KEY_FORGET, ...forgetApiKeysArgs(gateway.config.REDIS_PREFIX, [keyHash]));
      await revocationSettled();
      const res = await request(gateway.app).post('/api/v1/users/me/api-keys').set('X-API-Key', key);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('AUTH.INVALID_API_KEY');
    });

    it('when the key is revoked while a gateway is resolving it, then neither that request nor the cache keeps the answer read before', async () => {
      const key = 'ork_live_revoked_in_flight_0007';
      const keyHash = hashApiKey(key);
      apiKeys.set(keyHash, { userId: 'u-key', roles: ['user'], scopes: ['read'] });
      let release = () => {};
      heldAnswers.set(keyHash, new Promise<void>((resolve) => (release = resolve)));
      const calls = resolveCalls.length;
      const inFlight = request(gateway.app)
        .get('/api/v1/users/me')
        .set('X-API-Key', key)
        .then((res) => res);
      await eventually(async () => resolveCalls.length === calls + 1);
      // As the user service revokes: the key gone from its store, then forgetApiKeyResolutions.
      apiKeys.delete(keyHash);
      await testRedis.redis.eval(API_KEY_FORGET, ...forgetApiKeysArgs(gateway.config.REDIS_PREFIX, [keyHash]));
      release();

      const res = await inFlight;
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('AUTH.INVALID_API_KEY');
      // Asked again after the cached write was refused, and only the refusal is cached.
      expect(resolveCalls.length).toBe(calls + 2);
      const entry = await testRedis.redis.get(authRedisKeys.apiKey(gateway.config.REDIS_PREFIX, keyHash));
      expect(entry === null ? null : JSON.parse(entry)).toEqual({ invalid: true });
      expect((await request(gateway.app).get('/api/v1/users/me').set('X-API-Key', key)).status).toBe(401);
    });

    it('when the key is unknown, then 401, and the refusal is cached for about 2 s only', async () => {
      const key = 'ork_live_unknown_0003';
      const calls = resolveCalls.length;
      for (let i = 0; i < 3; i++)
        expect((await request(gateway.app).get('/api/v1/users/me').set('X-API-Key', key)).status).toBe(401);
      expect(resolveCalls.length).toBe(calls + 1);
      const ttl = await testRedis.redis.ttl(authRedisKeys.apiKey(gateway.config.REDIS_PREFIX, hashApiKey(key)));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(2);
    });

    it('when many requests bring the same uncached key at once, then the user service is asked once', async () => {
      const key = 'ork_live_concurrent_0004';
      apiKeys.set(hashApiKey(key), { userId: 'u-key', roles: ['user'], scopes: ['read'] });
      const calls = resolveCalls.length;
      const answers = await Promise.all(
        Array.from({ length: 10 }, () => request(gateway.app).get('/api/v1/users/me').set('X-API-Key', key)),
      );
      expect(answers.every((a) => a.status === 200)).toBe(true);
      expect(resolveCalls.length - calls).toBeLessThanOrEqual(2);
    });

    it('when the user service cannot be reached, then 503, not a 401 that would look like a bad key', async () => {
      const orphan = createTestGateway(testRedis, { user: [await closedUrl()] });
      try {
        const res = await request(orphan.app).get('/api/v1/users/me').set('X-API-Key', 'ork_live_whatever_0005');
        expect(res.status).toBe(503);
        expect(res.body.code).toBe('AUTH.UNAVAILABLE');
      } finally {
        await orphan.close();
      }
    });
  });
});
