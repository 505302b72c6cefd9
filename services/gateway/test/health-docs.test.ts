import { readFileSync } from 'node:fs';
import path from 'node:path';
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
        app.get('/health', (_req, res) =>
          res.json({ status: 'degraded', checks: { queue: { status: 'degraded', failed: 3 } } }),
        );
      }),
    ]);
    [user, orderBook, trade, degradedTrade] = stubs as [StubUpstream, StubUpstream, StubUpstream, StubUpstream];
    gateway = createTestGateway(testRedis, {
      user: [user.url],
      'order-book': [orderBook.url],
      'trade-execution': [trade.url],
      dispute: [down],
    });
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
    const healthy = createTestGateway(testRedis, {
      user: [user.url],
      'order-book': [orderBook.url],
      'trade-execution': [degradedTrade.url],
      dispute: [trade.url],
    });
    try {
      const res = await request(healthy.app).get('/health');
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('degraded');
      expect(res.body.services['trade-execution']).toMatchObject({
        status: 'degraded',
        checks: { queue: { status: 'degraded' } },
      });
    } finally {
      await healthy.close();
    }
  });

  it('when one of two replicas is down, then the service is degraded, not down', async () => {
    const halfDown = createTestGateway(testRedis, {
      user: [down, user.url],
      'order-book': [orderBook.url],
      'trade-execution': [trade.url],
      dispute: [trade.url],
    });
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
    expect(Object.keys(res.body.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/user-thing',
        '/api/v1/order-book-thing',
        '/api/v1/trade-execution-thing',
        '/health',
        '/metrics',
        '/docs',
        '/docs/openapi.json',
      ]),
    );
    expect(Object.keys(res.body.components.schemas)).toEqual(
      expect.arrayContaining(['Problem', 'userThing', 'order-bookThing']),
    );
    expect(res.body.components.securitySchemes).toMatchObject({
      bearerAuth: { scheme: 'bearer' },
      apiKey: { in: 'header', name: 'X-API-Key' },
    });
    expect(res.body['x-unavailable-services']).toEqual(['dispute']);
    expect(Object.keys(res.body.paths).filter((path) => path.startsWith('/internal'))).toEqual([]);
    expect(res.body.tags.map((t: { name: string }) => t.name)).toEqual([
      'Gateway',
      'user',
      'order-book',
      'trade-execution',
    ]);
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
      expect(Object.keys((await request(cached.app).get('/docs/openapi.json')).body.paths)).toContain(
        '/api/v1/flaky-thing',
      );
      await flaky.close();
      expect(Object.keys((await request(cached.app).get('/docs/openapi.json')).body.paths)).toContain(
        '/api/v1/flaky-thing',
      );
    } finally {
      await cached.close();
    }
  });

  it('when /docs is opened, then the Swagger UI page loads the renderer from the gateway itself, under the CSP, on /docs/openapi.json', async () => {
    const page = await request(gateway.app).get('/docs');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    const csp = page.headers['content-security-policy']!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('upgrade-insecure-requests');
    // Nothing from anywhere else: no absolute URL, and no inline script (the CSP would refuse it).
    expect(page.text).not.toMatch(/https?:\/\//);
    expect(page.text).not.toMatch(/<script>/);
    const scripts = [...page.text.matchAll(/<script src="([^"]+)"><\/script>/g)].map((m) => m[1]!);
    const styles = [...page.text.matchAll(/<link rel="stylesheet" href="([^"]+)">/g)].map((m) => m[1]!);
    expect(scripts).toEqual([
      expect.stringMatching(/^\/docs\/assets\/\d+\.\d+\.\d+\/swagger-ui-bundle\.js$/),
      '/docs/docs.js',
    ]);
    expect(styles).toEqual([expect.stringMatching(/^\/docs\/assets\/\d+\.\d+\.\d+\/swagger-ui\.css$/)]);

    const starter = await request(gateway.app).get('/docs/docs.js');
    expect(starter.status).toBe(200);
    expect(starter.headers['content-type']).toContain('javascript');
    expect(starter.text).toContain("url: '/docs/openapi.json'");
    expect(starter.text).toContain('validatorUrl: null');
    expect(() => new Function(starter.text)).not.toThrow();
  });

  it("when the renderer's files are fetched, then they are the package's, with their content types, cacheable for a year", async () => {
    const packageDir = path.dirname(require.resolve('swagger-ui-dist/package.json'));
    const page = (await request(gateway.app).get('/docs')).text;
    const assets = [...page.matchAll(/(?:src|href)="(\/docs\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets).toHaveLength(3);
    const contentTypes: Record<string, RegExp> = {
      js: /^(text|application)\/javascript/,
      css: /^text\/css/,
      png: /^image\/png$/,
    };
    for (const asset of assets) {
      const res = await request(gateway.app)
        .get(asset)
        .buffer(true)
        .parse((r, done) => {
          const chunks: Buffer[] = [];
          r.on('data', (chunk: Buffer) => chunks.push(chunk)).on('end', () => done(null, Buffer.concat(chunks)));
        });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(contentTypes[path.extname(asset).slice(1)]!);
      expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(res.headers.etag).toBeDefined();
      expect((res.body as Buffer).equals(readFileSync(path.join(packageDir, path.basename(asset))))).toBe(true);
    }
    const version = (require('swagger-ui-dist/package.json') as { version: string }).version;
    expect(assets[0]).toContain(`/docs/assets/${version}/`);
  });

  it('when another file of the package, or another version, is asked for, then the answer is 404', async () => {
    const version = (require('swagger-ui-dist/package.json') as { version: string }).version;
    for (const asset of [
      `/docs/assets/${version}/index.html`,
      `/docs/assets/${version}/package.json`,
      '/docs/assets/0.0.1/swagger-ui.css',
      `/docs/assets/${version}/..%2Fpackage.json`,
    ]) {
      expect((await request(gateway.app).get(asset)).status).toBe(404);
    }
  });

  it("when a service is down, then the document's description, which the page shows, names it", async () => {
    const res = await request(gateway.app).get('/docs/openapi.json');
    expect(res.body.info.description).toContain('Unavailable right now');
    expect(res.body.info.description).toContain('dispute');
  });

  it('when /metrics is scraped after traffic, then request, upstream, auth and rate-limit metrics are there', async () => {
    await request(gateway.app).get('/api/v1/users/me');
    await request(gateway.app).get('/api/v1/disputes');
    await request(gateway.app).get('/api/v1/users/me').set('Authorization', 'Bearer nope');
    await request(gateway.app)
      .get('/api/v1/users/me')
      .set('Authorization', `Bearer ${accessToken(gateway.config, 'm-1')}`);
    const res = await request(gateway.app).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.text).toMatch(
      /gateway_http_request_duration_seconds_count\{method="GET",group="user",status="200"\} \d+/,
    );
    expect(res.text).toMatch(/gateway_upstream_errors_total\{service="dispute",kind="unavailable"\} 1/);
    expect(res.text).toMatch(/gateway_auth_failures_total\{reason="token"\} 1/);
    expect(res.text).toContain('gateway_rate_limit_rejections_total');
    expect(res.text).toMatch(/gateway_upstream_healthy\{service="dispute",upstream="0"\} 0/);
  });
});
