import request from 'supertest';
import {
  createTestGateway,
  createTestRedis,
  startStub,
  type StubUpstream,
  type TestGateway,
  type TestRedis,
} from './harness';

const TOKEN = 'operator-token-0123456789abcdef0123456789';
const PRODUCTION = {
  NODE_ENV: 'production',
  INTERNAL_TOKEN_SECRET: 'p'.repeat(40),
  JWT_SECRETS: `prod1:${'j'.repeat(40)}`,
};

describe("gateway operator pages: /metrics and /health's checks are not public", () => {
  let testRedis: TestRedis;
  let stub: StubUpstream;
  let probes = 0;
  const gateways: TestGateway[] = [];
  const gatewayWith = (env: NodeJS.ProcessEnv) => {
    const gateway = createTestGateway(
      testRedis,
      { user: [stub.url], 'order-book': [stub.url], 'trade-execution': [stub.url], dispute: [stub.url] },
      env,
    );
    gateways.push(gateway);
    return gateway;
  };

  beforeAll(async () => {
    testRedis = await createTestRedis();
    stub = await startStub('any', (app) => {
      app.get('/health', (_req, res) => {
        probes++;
        res.json({
          status: 'ok',
          checks: { database: { status: 'ok', latencyMs: 1 }, queue: { status: 'ok', waiting: 3, failed: 0 } },
        });
      });
    });
  });

  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.close()));
    await stub.close();
    await testRedis.cleanup();
  });

  it('when an operator token is configured, then /metrics needs it (401 AUTH.OPERATOR_REQUIRED otherwise)', async () => {
    const { app } = gatewayWith({ OPERATOR_TOKEN: TOKEN });
    for (const authorization of [undefined, 'Bearer wrong-token', `Basic ${TOKEN}`, `Bearer ${TOKEN}x`]) {
      const req = request(app).get('/metrics');
      const res = await (authorization ? req.set('Authorization', authorization) : req);
      expect(res.status).toBe(401);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.body.code).toBe('AUTH.OPERATOR_REQUIRED');
      expect(res.text).not.toContain('gateway_http_request_duration_seconds');
    }
    const scrape = await request(app).get('/metrics').set('Authorization', `Bearer ${TOKEN}`);
    expect(scrape.status).toBe(200);
    expect(scrape.text).toContain('gateway_http_request_duration_seconds');
  });

  it('when the public asks /health, then it gets the statuses without the checks; the operator gets everything', async () => {
    const { app } = gatewayWith({ OPERATOR_TOKEN: TOKEN });
    const open = await request(app).get('/health');
    expect(open.status).toBe(200);
    expect(open.body).toEqual({
      status: 'ok',
      services: Object.fromEntries(
        ['user', 'order-book', 'trade-execution', 'dispute'].map((name) => [
          name,
          { status: 'ok', latencyMs: expect.any(Number), checks: {} },
        ]),
      ),
    });
    const operator = await request(app).get('/health').set('Authorization', `Bearer ${TOKEN}`);
    expect(operator.body.services.user).toMatchObject({
      status: 'ok',
      checks: { queue: { waiting: 3 } },
      replicas: { total: 1, ok: 1 },
    });
    expect(operator.body.checks.redis.status).toBe('ok');
  });

  it('when production has no operator token, then /metrics is closed and /health public only', async () => {
    const { app } = gatewayWith(PRODUCTION);
    expect((await request(app).get('/metrics')).status).toBe(401);
    const health = await request(app).get('/health');
    expect(health.status).toBe(200);
    expect(health.body.services.user.checks).toEqual({});
    expect(health.body.checks).toBeUndefined();
  });

  it('when /health is asked many times at once and again within HEALTH_CACHE_MS, then the replicas are probed for one report only', async () => {
    const { app } = gatewayWith({ HEALTH_CACHE_MS: '60000' });
    const before = probes;
    const answers = await Promise.all(Array.from({ length: 20 }, () => request(app).get('/health')));
    expect(answers.every((res) => res.status === 200)).toBe(true);
    await request(app).get('/health').expect(200);
    // One report asks each of the four services' replica (all this one stub) once.
    expect(probes - before).toBe(4);
  });
});
