import request from 'supertest';
import { accessToken, closedUrl, createTestGateway, createTestRedis, startStub, type StubUpstream, type TestGateway, type TestRedis } from './harness';

describe('gateway /health, /metrics, /docs', () => {
  let testRedis: TestRedis;
  let stubs: StubUpstream[];
  let user: StubUpstream;
  let orderBook: StubUpstream;
  let trade: StubUpstream;
  let degradedTrade: StubUpstream;
  let down: string;
  let gateway: TestGateway;

  beforeAll(async () => {
    testRedis = await createTestRedis();
    down = await closedUrl();
    stubs = await Promise.all([
      startStub('user'),
      startStub('order-book'),
      startStub('trade-execution'),
      startStub('trade-degraded', (app) => {
        app.get('/health', (_req, res) => res.json({ status: 'degraded', checks: { queue: { status: 'degraded', failed: 3 } } }));
      }),
    ]);
    [user, orderBook, trade, degradedTrade] = stubs as [StubUpstream, StubUpstream, StubUpstream, StubUpstream];
    gateway = createTestGateway(testRedis, { user: [user.url], 'order-book': [orderBook.url], 'trade-execution': [trade.url], dispute: [down] });
  });

  afterAll(async () => {
    await gateway.close();
    await Promise.all(stubs.map((s) => s.close()));
    await testRedis.cleanup();
  });

  it('when one service is down, then /health answers 503 with that service down and the others ok', async () => {
    const res = await request(gateway.app).get('/health');
    expect(res.status).toBe(503);
    expect(res.body.status).toBe('down');
    expect(res.body.services.dispute).toMatchObject({ status: 'down', latencyMs: null });
    for (const name of ['user', 'order-book', 'trade-execution']) {
      expect(res.body.services[name]).toMatchObject({ status: 'ok', checks: { database: { status: 'ok' } } });
      expect(typeof res.body.services[name].latencyMs).toBe('number');
    }
    expect(res.body.checks.redis.status).toBe('ok');
    expect(JSON.stringify(res.body)).not.toContain('127.0.0.1');
  });

  it('when every service answers, one of them degraded, then /health is 200 degraded', async () => {
    const healthy = createTestGateway(testRedis, { user: [user.url], 'order-book': [orderBook.url], 'trade-execution': [degradedTrade.url], dispute: [trade.url] });
    try {
      const res = await request(healthy.app).get('/health');
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('degraded');
      expect(res.body.services['trade-execution']).toMatchObject({ status: 'degraded', checks: { queue: { status: 'degraded' } } });
    } finally {
      await healthy.close();
    }
  });

  it('when one of two replicas is down, then the service is degraded, not down', async () => {
    const halfDown = createTestGateway(testRedis, { user: [down, user.url], 'order-book': [orderBook.url], 'trade-execution': [trade.url], dispute: [trade.url] });
    try {
      const res = await request(halfDown.app).get('/health');
      expect(res.body.services.user).toMatchObject({ status: 'degraded', replicas: { total: 2, ok: 1 } });
    } finally {
      await halfDown.close();
    }
  });

  it('when /docs/openapi.json is asked with a service down, then the others are merged into one 3.0.3 document', async () => {
    const res = await request(gateway.app).get('/docs/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.0.3');
    expect(Object.keys(res.body.paths)).toEqual(expect.arrayContaining(['/api/v1/user-thing', '/api/v1/order-book-thing', '/api/v1/trade-execution-thing', '/health', '/metrics', '/docs', '/docs/openapi.json']));
    expect(Object.keys(res.body.components.schemas)).toEqual(expect.arrayContaining(['Problem', 'userThing', 'order-bookThing']));
    expect(res.body.components.securitySchemes).toMatchObject({ bearerAuth: { scheme: 'bearer' }, apiKey: { in: 'header', name: 'X-API-Key' } });
    expect(res.body['x-unavailable-services']).toEqual(['dispute']);
    expect(Object.keys(res.body.paths).filter((path) => path.startsWith('/internal'))).toEqual([]);
    expect(res.body.tags.map((t: { name: string }) => t.name)).toEqual(expect.arrayContaining(['user', 'order-book', 'gateway']));
  });

  it('when /docs/openapi.json is asked again, then the same bytes come with their ETag, and a client holding them gets 304', async () => {
    const first = await request(gateway.app).get('/docs/openapi.json');
    const again = await request(gateway.app).get('/docs/openapi.json');
    expect(first.headers.etag).toMatch(/^"[\w-]{27}"$/);
    expect(again.headers.etag).toBe(first.headers.etag);
    expect(again.text).toBe(first.text);
    const held = await request(gateway.app).get('/docs/openapi.json').set('If-None-Match', first.headers.etag!);
    expect(held.status).toBe(304);
    expect(held.text).toBe('');
  });

  it('when a service goes down after its document was fetched, then the cached document is still served', async () => {
    const flaky = await startStub('flaky');
    const cached = createTestGateway(testRedis, { dispute: [flaky.url] }, { OPENAPI_CACHE_MS: '0' });
    try {
      expect(Object.keys((await request(cached.app).get('/docs/openapi.json')).body.paths)).toContain('/api/v1/flaky-thing');
      await flaky.close();
      expect(Object.keys((await request(cached.app).get('/docs/openapi.json')).body.paths)).toContain('/api/v1/flaky-thing');
    } finally {
      await cached.close();
    }
  });

  it('when /docs is opened, then a self-contained page loads its script from the gateway itself', async () => {
    const page = await request(gateway.app).get('/docs');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.text).toContain('<script src="/docs/docs.js"></script>');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['content-security-policy']).not.toContain('upgrade-insecure-requests');
    expect(page.text).not.toMatch(/https?:\/\/(?!orrange)/);
    const script = await request(gateway.app).get('/docs/docs.js');
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toContain('javascript');
    expect(script.text).toContain("fetch('/docs/openapi.json')");
    expect(() => new Function(script.text)).not.toThrow();
  });

  it('when /metrics is scraped after traffic, then request, upstream, auth and rate-limit metrics are there', async () => {
    await request(gateway.app).get('/api/v1/users/me');
    await request(gateway.app).get('/api/v1/disputes');
    await request(gateway.app).get('/api/v1/users/me').set('Authorization', 'Bearer nope');
    await request(gateway.app).get('/api/v1/users/me').set('Authorization', `Bearer ${accessToken(gateway.config, 'm-1')}`);
    const res = await request(gateway.app).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/gateway_http_request_duration_seconds_count\{method="GET",group="user",status="200"\} \d+/);
    expect(res.text).toMatch(/gateway_upstream_errors_total\{service="dispute",kind="unavailable"\} 1/);
    expect(res.text).toMatch(/gateway_auth_failures_total\{reason="token"\} 1/);
    expect(res.text).toContain('gateway_rate_limit_rejections_total');
    expect(res.text).toMatch(/gateway_upstream_healthy\{service="dispute",upstream="0"\} 0/);
  });
});
