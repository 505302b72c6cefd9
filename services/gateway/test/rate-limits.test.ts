import { createHash } from 'node:crypto';
import request from 'supertest';
import {
  accessToken,
  createTestGateway,
  createTestRedis,
  startStub,
  type StubUpstream,
  type TestGateway,
  type TestRedis,
} from './harness';

describe('gateway rate limits', () => {
  let testRedis: TestRedis;
  let user: StubUpstream;
  let orderBook: StubUpstream;
  const gateways: TestGateway[] = [];
  const gatewayWith = (env: NodeJS.ProcessEnv) => {
    const gateway = createTestGateway(testRedis, { user: [user.url], 'order-book': [orderBook.url] }, env);
    gateways.push(gateway);
    return gateway;
  };

  beforeAll(async () => {
    testRedis = await createTestRedis();
    [user, orderBook] = (await Promise.all([startStub('user'), startStub('order-book')])) as [
      StubUpstream,
      StubUpstream,
    ];
  });

  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.close()));
    await Promise.all([user.close(), orderBook.close()]);
    await testRedis.cleanup();
  });

  it('when a client spends its budget, then 429 RATE_LIMITED with Retry-After and RateLimit headers, counted in Redis', async () => {
    const gateway = gatewayWith({ RATE_LIMIT_PER_MINUTE: '5' });
    const ip = '203.0.113.10';
    // IETF draft-8 fields; the partition key is the first 12 hex digits of the SHA-256 of the limiter's key, in base64.
    const pk = Buffer.from(createHash('sha256').update(`ip:${ip}`).digest('hex').slice(0, 12)).toString('base64');
    for (let i = 0; i < 5; i++) {
      const ok = await request(gateway.app).get('/api/v1/orderbook').set('X-Forwarded-For', ip);
      expect(ok.status).toBe(200);
      expect(ok.headers.ratelimit).toMatch(new RegExp(`^"client"; r=${4 - i}; t=\\d+$`));
      expect(ok.headers['ratelimit-policy']).toBe(`"client"; q=5; w=60; pk=:${pk}:`);
    }
    const refused = await request(gateway.app).get('/api/v1/orderbook').set('X-Forwarded-For', ip);
    expect(refused.status).toBe(429);
    expect(refused.headers['content-type']).toContain('application/problem+json');
    expect(refused.body.code).toBe('RATE_LIMITED');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(refused.headers.ratelimit).toMatch(/^"client"; r=0; t=\d+$/);
    expect(refused.headers['ratelimit-policy']).toBe(`"client"; q=5; w=60; pk=:${pk}:`);
    const keys = await testRedis.redis.keys(`${testRedis.prefix}:rl:*`);
    expect(keys.length).toBeGreaterThan(0);

    const otherClient = await request(gateway.app).get('/api/v1/orderbook').set('X-Forwarded-For', '203.0.113.11');
    expect(otherClient.status).toBe(200);
  });

  it('when a client is authenticated, then its budget follows the user, not the address', async () => {
    const gateway = gatewayWith({ RATE_LIMIT_PER_MINUTE: '3' });
    const ip = '203.0.113.20';
    const alice = `Bearer ${accessToken(gateway.config, 'rl-alice')}`;
    const bob = `Bearer ${accessToken(gateway.config, 'rl-bob')}`;
    for (let i = 0; i < 3; i++)
      await request(gateway.app)
        .get('/api/v1/users/me')
        .set('X-Forwarded-For', ip)
        .set('Authorization', alice)
        .expect(200);
    expect(
      (
        await request(gateway.app)
          .get('/api/v1/users/me')
          .set('X-Forwarded-For', '198.51.100.1')
          .set('Authorization', alice)
      ).status,
    ).toBe(429);
    expect(
      (await request(gateway.app).get('/api/v1/users/me').set('X-Forwarded-For', ip).set('Authorization', bob)).status,
    ).toBe(200);
  });

  it('when a client keeps sending invalid credentials, then they count against its budget and it meets 429', async () => {
    const gateway = gatewayWith({ RATE_LIMIT_PER_MINUTE: '3' });
    const statuses = [];
    for (let i = 0; i < 5; i++)
      statuses.push(
        (
          await request(gateway.app)
            .get('/api/v1/users/me')
            .set('X-Forwarded-For', '203.0.113.25')
            .set('Authorization', `Bearer guess.${i}.x`)
        ).status,
      );
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
  });

  it('when /health, /metrics and /docs are asked often, then they are never limited', async () => {
    const gateway = gatewayWith({ RATE_LIMIT_PER_MINUTE: '1' });
    for (let i = 0; i < 4; i++) {
      expect((await request(gateway.app).get('/metrics').set('X-Forwarded-For', '203.0.113.30')).status).toBe(200);
      expect((await request(gateway.app).get('/docs').set('X-Forwarded-For', '203.0.113.30')).status).toBe(200);
    }
  });

  it('when two gateway instances share one Redis, then together they allow exactly the limit', async () => {
    const limit = 7;
    const first = gatewayWith({ RATE_LIMIT_PER_MINUTE: String(limit) });
    const second = gatewayWith({ RATE_LIMIT_PER_MINUTE: String(limit) });
    const ip = '203.0.113.40';
    const statuses = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        request((i % 2 ? first : second).app)
          .get('/api/v1/orderbook')
          .set('X-Forwarded-For', ip)
          .then((r) => r.status),
      ),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(limit);
    expect(statuses.filter((s) => s === 429)).toHaveLength(20 - limit);
  });

  describe('login brute force', () => {
    let gateway: TestGateway;
    const login = (ip: string, email: string) =>
      request(gateway.app)
        .post('/api/v1/auth/login')
        .set('X-Forwarded-For', ip)
        .set('content-type', 'application/json')
        .send(JSON.stringify({ email, password: 'guess' }));

    beforeAll(() => {
      gateway = gatewayWith({
        RATE_LIMIT_PER_MINUTE: '1000',
        AUTH_RATE_LIMIT_PER_MINUTE: '4',
        LOGIN_ACCOUNT_RATE_LIMIT_PER_MINUTE: '3',
      });
    });

    it('when one address tries many accounts, then the per-IP auth limit stops it', async () => {
      const ip = '198.51.100.50';
      const statuses = [];
      for (let i = 0; i < 6; i++) statuses.push((await login(ip, `victim${i}@example.com`)).status);
      expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
      const register = await request(gateway.app)
        .post('/api/v1/auth/register')
        .set('X-Forwarded-For', ip)
        .send({ email: 'x@example.com', username: 'x', password: 'p' });
      expect(register.status).toBe(429);
    });

    it('when many addresses try one account, then the per-account limit stops them, whatever the spelling of the email', async () => {
      const statuses = [];
      const spellings = [
        'target@example.com',
        'Target@Example.com',
        ' target@example.com',
        'TARGET@example.com',
        'target@example.com',
      ];
      for (let i = 0; i < spellings.length; i++)
        statuses.push((await login(`198.51.100.${60 + i}`, spellings[i]!)).status);
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      expect((await login('198.51.100.70', 'someone-else@example.com')).status).toBe(200);
    });

    it('when a login passes the limits, then the service receives the body unchanged', async () => {
      const res = await login('198.51.100.80', 'intact@example.com');
      expect(res.status).toBe(200);
      expect(JSON.parse(user.seen.at(-1)!.body)).toEqual({ email: 'intact@example.com', password: 'guess' });
    });

    it('when the login body is nested too deeply to write back, then 400 problem+json, not a 5xx', async () => {
      const depth = 100_000;
      const res = await request(gateway.app)
        .post('/api/v1/auth/register')
        .set('X-Forwarded-For', '198.51.100.91')
        .set('content-type', 'application/json')
        .send(`{"email":${'['.repeat(depth)}${']'.repeat(depth)}}`);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
    });

    it('when the login body is not JSON, then 400 problem+json before any upstream', async () => {
      const res = await request(gateway.app)
        .post('/api/v1/auth/login')
        .set('X-Forwarded-For', '198.51.100.90')
        .set('content-type', 'application/json')
        .send('{"email":');
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
    });
  });
});
