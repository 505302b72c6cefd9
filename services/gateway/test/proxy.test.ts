import http from 'node:http';
import net from 'node:net';
import request from 'supertest';
import { eventually } from '@orrange/testing';
import { IDENTITY_HEADER, verifyIdentity } from '@orrange/http';
import {
  accessToken,
  closedUrl,
  createTestGateway,
  createTestRedis,
  listen,
  startStub,
  type StubUpstream,
  type TestGateway,
  type TestRedis,
} from './harness';

describe('gateway proxy', () => {
  let testRedis: TestRedis;
  let stubs: Record<'user' | 'orderBook' | 'trade' | 'dispute' | 'userReplica', StubUpstream>;
  let gateway: TestGateway;

  beforeAll(async () => {
    testRedis = await createTestRedis();
    const [user, orderBook, trade, dispute, userReplica] = await Promise.all([
      startStub('user', (app) => {
        app.get('/api/v1/users/missing', (_req, res) => {
          res
            .status(404)
            .type('application/problem+json')
            .send(
              JSON.stringify({
                type: 'x',
                title: 'Not Found',
                status: 404,
                detail: 'No such user.',
                code: 'USER.NOT_FOUND',
                requestId: 'from-user',
              }),
            );
        });
      }),
      startStub('order-book'),
      startStub('trade-execution'),
      startStub('dispute'),
      startStub('user-replica'),
    ]);
    stubs = { user: user!, orderBook: orderBook!, trade: trade!, dispute: dispute!, userReplica: userReplica! };
    gateway = createTestGateway(
      testRedis,
      {
        user: [stubs.user.url],
        'order-book': [stubs.orderBook.url],
        'trade-execution': [stubs.trade.url],
        dispute: [stubs.dispute.url],
      },
      { CORS_ORIGINS: 'https://app.orrange.dev,https://admin.orrange.dev', BODY_LIMIT_BYTES: '1024' },
    );
  });

  afterAll(async () => {
    await gateway.close();
    await Promise.all(Object.values(stubs).map((stub) => stub.close()));
    await testRedis.cleanup();
  });

  it.each([
    ['/api/v1/auth/login', 'user'],
    ['/api/v1/users/me', 'user'],
    ['/api/v1/admin/users/42/roles', 'user'],
    ['/api/v1/admin/audit', 'user'],
    ['/api/v1/orders', 'order-book'],
    ['/api/v1/orders/abc', 'order-book'],
    ['/api/v1/orderbook?asset=BTC&fiat=EUR', 'order-book'],
    ['/api/v1/markets', 'order-book'],
    ['/api/v1/admin/markets/BTC/EUR', 'order-book'],
    ['/api/v1/wallet/balances', 'trade-execution'],
    ['/api/v1/trades/t1/messages', 'trade-execution'],
    ['/api/v1/stats/volume', 'trade-execution'],
    ['/api/v1/admin/ledger/entries', 'trade-execution'],
    ['/api/v1/admin/stats', 'trade-execution'],
    ['/api/v1/admin/withdrawals', 'trade-execution'],
    ['/api/v1/custody/webhooks', 'trade-execution'],
    ['/api/v1/disputes/d1', 'dispute'],
  ])('when %s is asked, then %s answers with the path unchanged', async (path, upstream) => {
    const res = await request(gateway.app).get(path).set('X-Request-Id', 'route-test-1');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ upstream, url: path, identity: null });
    expect(res.headers['x-request-id']).toBe('route-test-1');
  });

  it('when the request reaches a service, then it carries the request id', async () => {
    await request(gateway.app).get('/api/v1/disputes').set('X-Request-Id', 'carried-id-7');
    expect(stubs.dispute.seen.at(-1)!.headers['x-request-id']).toBe('carried-id-7');
  });

  it.each(['/api/v1/unknown', '/api/v1/ordersx', '/api/v2/orders', '/api'])(
    'when %s is asked, then 404 problem+json and no upstream sees it',
    async (path) => {
      const before = Object.values(stubs).reduce((n, s) => n + s.seen.length, 0);
      const res = await request(gateway.app).get(path);
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.body.code).toBe('ROUTE.NOT_FOUND');
      expect(Object.values(stubs).reduce((n, s) => n + s.seen.length, 0)).toBe(before);
    },
  );

  it('when a client writes its own X-Forwarded-For chain, then the service receives only the address the gateway trusts', async () => {
    await request(gateway.app).get('/api/v1/disputes').set('X-Forwarded-For', '9.9.9.9, 203.0.113.5');
    expect(stubs.dispute.seen.at(-1)!.headers['x-forwarded-for']).toBe('203.0.113.5');
    await request(gateway.app).get('/api/v1/disputes');
    expect(stubs.dispute.seen.at(-1)!.headers['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('when a bearer token is valid, then the service receives an identity signed by the gateway', async () => {
    const res = await request(gateway.app)
      .get('/api/v1/users/me')
      .set('Authorization', `Bearer ${accessToken(gateway.config, 'u-1', ['user', 'admin'])}`);
    expect(res.status).toBe(200);
    expect(verifyIdentity(res.body.identity, gateway.config.INTERNAL_TOKEN_SECRET)).toEqual({
      userId: 'u-1',
      roles: ['user', 'admin'],
      scopes: null,
      via: 'jwt',
    });
  });

  it('when a client sends its own x-orrange-* headers, then they never reach the service', async () => {
    const forged = 'eyJhbGciOiJIUzI1NiJ9.forged.identity';
    const anonymous = await request(gateway.app)
      .get('/api/v1/users/me')
      .set(IDENTITY_HEADER, forged)
      .set('X-Orrange-Roles', 'admin');
    expect(anonymous.body.identity).toBeNull();
    expect(stubs.user.seen.at(-1)!.headers['x-orrange-roles']).toBeUndefined();

    const authenticated = await request(gateway.app)
      .get('/api/v1/users/me')
      .set(IDENTITY_HEADER, forged)
      .set('Authorization', `Bearer ${accessToken(gateway.config, 'u-2')}`);
    expect(verifyIdentity(authenticated.body.identity, gateway.config.INTERNAL_TOKEN_SECRET).userId).toBe('u-2');
  });

  it('when custody posts a webhook with X-Orrange-Signature, then that header (and no other x-orrange-* one) reaches trade-execution', async () => {
    await request(gateway.app)
      .post('/api/v1/custody/webhooks')
      .set('X-Orrange-Signature', 't=1,v1=ab')
      .set(IDENTITY_HEADER, 'forged')
      .send({ id: 'e1' });
    const seen = stubs.trade.seen.at(-1)!.headers;
    expect(seen['x-orrange-signature']).toBe('t=1,v1=ab');
    expect(seen[IDENTITY_HEADER]).toBeUndefined();
  });

  it('when a service answers problem+json, then the body and status pass through unchanged', async () => {
    const res = await request(gateway.app).get('/api/v1/users/missing');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.body).toEqual({
      type: 'x',
      title: 'Not Found',
      status: 404,
      detail: 'No such user.',
      code: 'USER.NOT_FOUND',
      requestId: 'from-user',
    });
  });

  it('when a JSON body is posted, then the service receives it byte for byte', async () => {
    const body = JSON.stringify({ side: 'SELL', asset: 'BTC', amount: '0.01500000' });
    await request(gateway.app).post('/api/v1/orders').set('content-type', 'application/json').send(body).expect(200);
    expect(stubs.orderBook.seen.at(-1)!.body).toBe(body);
  });

  it('when the declared body is over the limit, then 413 problem+json and the service never sees it', async () => {
    const before = stubs.orderBook.seen.length;
    const res = await request(gateway.app)
      .post('/api/v1/orders')
      .set('content-type', 'application/json')
      .send(JSON.stringify({ pad: 'x'.repeat(2048) }));
    expect(res.status).toBe(413);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.body.code).toBe('REQUEST.TOO_LARGE');
    expect(stubs.orderBook.seen.length).toBe(before);
  });

  it('when a client is still writing a refused body, then it reads the 413 (no reset), and a declared giant body closes the connection', async () => {
    const port = await listen(gateway.app);
    try {
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`http://127.0.0.1:${port.port}/api/v1/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: 'x'.repeat(2_000_000),
        });
        expect(res.status).toBe(413);
        expect(((await res.json()) as { code: string }).code).toBe('REQUEST.TOO_LARGE');
      }
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(port.port, '127.0.0.1', () =>
          socket.write(
            'POST /api/v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n{',
          ),
        );
        let text = '';
        socket.on('data', (chunk) => (text += chunk.toString()));
        socket.on('close', () => resolve(text));
        socket.on('error', reject);
      });
      expect(answer).toMatch(/^HTTP\/1\.1 413/);
      expect(answer).toMatch(/connection: close/i);
    } finally {
      await port.close();
    }
  });

  it('when a chunked body without Content-Length grows over the limit, then it is cut with 413', async () => {
    const port = await listen(gateway.app);
    try {
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request({
          host: '127.0.0.1',
          port: port.port,
          method: 'POST',
          path: '/api/v1/orders',
          headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
        });
        req.on('response', (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body: text }));
        });
        req.on('error', reject);
        let sent = 0;
        const pump = () => {
          if (sent >= 8) return req.end();
          sent += 1;
          req.write('x'.repeat(512), () => setTimeout(pump, 5));
        };
        pump();
      });
      expect(answer.status).toBe(413);
      expect(JSON.parse(answer.body).code).toBe('REQUEST.TOO_LARGE');
    } finally {
      await port.close();
    }
  });

  it('when the origin is on the allow-list, then CORS headers allow it and expose the gateway headers', async () => {
    const res = await request(gateway.app).get('/api/v1/orderbook').set('Origin', 'https://app.orrange.dev');
    expect(res.headers['access-control-allow-origin']).toBe('https://app.orrange.dev');
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    expect(res.headers['access-control-expose-headers']).toContain('X-Request-Id');
    expect(res.headers['access-control-expose-headers']).toContain('Retry-After');
    const preflight = await request(gateway.app)
      .options('/api/v1/orders')
      .set('Origin', 'https://admin.orrange.dev')
      .set('Access-Control-Request-Method', 'POST');
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://admin.orrange.dev');
  });

  it('when the origin is not on the allow-list, then no CORS header allows it', async () => {
    const res = await request(gateway.app).get('/api/v1/orderbook').set('Origin', 'https://evil.example');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('when any response leaves the gateway, then helmet headers are set', async () => {
    const res = await request(gateway.app).get('/api/v1/orderbook');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  describe('with several replicas and failing upstreams', () => {
    let down: string;
    let slow: StubUpstream;
    let failing: TestGateway;

    beforeAll(async () => {
      down = await closedUrl();
      slow = await startStub('slow', (app) => {
        app.use('/api/v1/trades', (_req, res) => {
          const timer = setTimeout(() => res.json({ late: true }), 1_500);
          res.on('close', () => clearTimeout(timer));
        });
      });
      failing = createTestGateway(
        testRedis,
        {
          user: [stubs.user.url, stubs.userReplica.url],
          'order-book': [down],
          'trade-execution': [slow.url],
          dispute: [down, stubs.dispute.url],
        },
        { UPSTREAM_TIMEOUT_MS: '300', UPSTREAM_EJECT_MS: '60000' },
      );
    });

    afterAll(async () => {
      await failing.close();
      await slow.close();
    });

    it('when a service has two replicas, then requests alternate between them', async () => {
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push((await request(failing.app).get('/api/v1/users/me')).body.upstream);
      expect(answers.filter((a) => a === 'user')).toHaveLength(2);
      expect(answers.filter((a) => a === 'user-replica')).toHaveLength(2);
    });

    it('when the only replica refuses connections, then 502 and then 503 while it is out of rotation', async () => {
      const first = await request(failing.app).get('/api/v1/orders');
      expect(first.status).toBe(502);
      expect(first.body.code).toBe('UPSTREAM.UNAVAILABLE');
      expect(first.headers['content-type']).toContain('application/problem+json');
      expect(JSON.stringify(first.body)).not.toMatch(/127\.0\.0\.1|ECONN|:\d{4,5}/);
      const second = await request(failing.app).get('/api/v1/orders');
      expect(second.status).toBe(503);
      expect(second.body.code).toBe('UPSTREAM.UNAVAILABLE');
    });

    it('when one of two replicas is down, then GETs are retried on the live one and never fail', async () => {
      const statuses = [];
      for (let i = 0; i < 6; i++) statuses.push((await request(failing.app).get('/api/v1/disputes')).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
    });

    it('when a POST meets a replica that is down, then it is not repeated elsewhere: 502, and the next one goes to the live replica', async () => {
      const gateway = createTestGateway(
        testRedis,
        { dispute: [down, stubs.dispute.url] },
        { UPSTREAM_EJECT_MS: '60000' },
      );
      try {
        const before = stubs.dispute.seen.length;
        const statuses = [];
        for (let i = 0; i < 3; i++)
          statuses.push((await request(gateway.app).post('/api/v1/disputes').send({ reason: 'x' })).status);
        expect(statuses.filter((s) => s === 502).length).toBeLessThanOrEqual(1);
        expect(statuses.filter((s) => s === 200).length).toBe(stubs.dispute.seen.length - before);
        expect(statuses.at(-1)).toBe(200);
      } finally {
        await gateway.close();
      }
    });

    it('when the upstream is slower than the timeout, then 504 problem+json', async () => {
      const res = await request(failing.app).get('/api/v1/trades');
      expect(res.status).toBe(504);
      expect(res.body.code).toBe('UPSTREAM.TIMEOUT');
    });

    it('when every socket for writes is busy, then reads and health probes still get through on their own lanes', async () => {
      const hanging: Array<() => void> = [];
      const busy = await startStub('busy', (app) => {
        app.post('/api/v1/orders', (_req, res) => void hanging.push(() => res.status(201).json({ late: true })));
      });
      const gateway = createTestGateway(testRedis, { 'order-book': [busy.url] }, { UPSTREAM_MAX_SOCKETS: '2' });
      const server = await listen(gateway.app);
      try {
        const post = () =>
          fetch(`http://127.0.0.1:${server.port}/api/v1/orders`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{}',
          });
        const writes = [post(), post(), post()];
        await eventually(async () => hanging.length === 2);
        const read = await fetch(`http://127.0.0.1:${server.port}/api/v1/orderbook`);
        expect(read.status).toBe(200);
        await gateway.resources.upstreams.probeAll();
        expect(gateway.resources.upstreams.pools['order-book'].pick()).toBeDefined();
        hanging.splice(0).forEach((answer) => answer());
        await eventually(async () => hanging.length === 1);
        hanging.splice(0).forEach((answer) => answer());
        expect((await Promise.all(writes)).map((r) => r.status)).toEqual([201, 201, 201]);
      } finally {
        await server.close();
        await gateway.close();
        await busy.close();
      }
    });

    it('when the active probe finds a replica unreachable, then it leaves rotation without a failed request', async () => {
      const probed = createTestGateway(testRedis, { user: [down, stubs.user.url] });
      try {
        await probed.resources.upstreams.probeAll();
        for (let i = 0; i < 3; i++)
          expect((await request(probed.app).get('/api/v1/users/me')).body.upstream).toBe('user');
      } finally {
        await probed.close();
      }
    });
  });
});
