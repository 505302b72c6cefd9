import request from 'supertest';
import {
  accessToken,
  closedUrl,
  createTestGateway,
  createTestRedis,
  startStub,
  type StubUpstream,
  type TestGateway,
  type TestRedis,
} from './harness';

describe('gateway when its Redis is unreachable', () => {
  let testRedis: TestRedis;
  let user: StubUpstream;
  let gateway: TestGateway;

  beforeAll(async () => {
    testRedis = await createTestRedis();
    user = await startStub('user');
    const nowhere = (await closedUrl()).replace('http:', 'redis:');
    gateway = createTestGateway({ ...testRedis, url: nowhere }, { user: [user.url] });
  });

  afterAll(async () => {
    await gateway.close();
    await user.close();
    await testRedis.cleanup();
  });

  it('when an anonymous client calls a public route, then it still passes (the per-client limit fails open)', async () => {
    const res = await request(gateway.app).get('/api/v1/users/u-1');
    expect(res.status).toBe(200);
  });

  it('when a bearer token comes, then 503: revocation cannot be checked, so it is not trusted', async () => {
    const res = await request(gateway.app)
      .get('/api/v1/users/me')
      .set('Authorization', `Bearer ${accessToken(gateway.config, 'u-1')}`);
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('AUTH.UNAVAILABLE');
  });

  it('when someone logs in, then 503: the brute-force limits fail closed', async () => {
    const res = await request(gateway.app).post('/api/v1/auth/login').send({ email: 'a@example.com', password: 'x' });
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('RATE_LIMIT.UNAVAILABLE');
  });

  it('when /health is asked, then the gateway reports its Redis down with 503', async () => {
    const res = await request(gateway.app).get('/health');
    expect(res.status).toBe(503);
    expect(res.body.checks.redis.status).toBe('down');
  });
});
