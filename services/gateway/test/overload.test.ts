import http from 'node:http';
import net from 'node:net';
import type { Response } from 'express';
import request from 'supertest';
import { eventually } from '@orrange/testing';
import { ADAPTIVE_LIMIT_MIN } from '../src/proxy/admission';
import {
  createTestGateway,
  createTestRedis,
  listen,
  startStub,
  type Listening,
  type StubUpstream,
  type TestGateway,
  type TestRedis,
} from './harness';

/** In-flight cap per service lane in these tests. */
const MAX_IN_FLIGHT = 3;
/** Requests sent beyond the cap. */
const EXTRA = 2;
const BOOK = '/api/v1/orderbook?asset=BTC&fiatCurrency=USD';
/** A browser app's origin the gateway allows (CORS). */
const APP_ORIGIN = 'https://app.orrange.dev';

/**
 * A slow order-book: it answers a read only when the test opens its gate, so "the upstream is busy" lasts
 * exactly as long as the test needs, with no timer to race. Writes answer at once, except `/orders/stuck`,
 * which never answers.
 */
interface SlowUpstream {
  stub: StubUpstream;
  /** Reads the upstream has received and holds. */
  held: Response[];
  /** Answers every held read, and every later one at once. */
  open(): void;
}

async function startSlowOrderBook(): Promise<SlowUpstream> {
  const held: Response[] = [];
  let gateOpen = false;
  const stub = await startStub('order-book', (app) => {
    app.get('/api/v1/orderbook', (_req, res) => {
      if (gateOpen) return void res.json({ bids: [], asks: [] });
      held.push(res);
    });
    app.post('/api/v1/orders/stuck', () => undefined);
    app.post('/api/v1/orders', (_req, res) => res.status(201).json({ order: { id: 'o1' } }));
  });
  return {
    stub,
    held,
    open() {
      gateOpen = true;
      for (const res of held.splice(0)) res.json({ bids: [], asks: [] });
    },
  };
}

/** A metric's value as the gateway at `url` exports it (0 when absent). */
async function metricAt(url: string, name: string, labels: string): Promise<number> {
  const text = (await request(url).get('/metrics')).text;
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

describe('gateway load shedding', () => {
  let testRedis: TestRedis;
  let upstream: SlowUpstream;
  let gateway: TestGateway;
  let server: Listening;
  let url: string;

  const metric = (name: string, labels: string) => metricAt(url, name, labels);

  beforeAll(async () => {
    testRedis = await createTestRedis();
    upstream = await startSlowOrderBook();
    gateway = createTestGateway(
      testRedis,
      { 'order-book': [upstream.stub.url] },
      { UPSTREAM_MAX_IN_FLIGHT: String(MAX_IN_FLIGHT), CORS_ORIGINS: APP_ORIGIN },
    );
    server = await listen(gateway.app);
    url = server.url;
  });

  afterAll(async () => {
    upstream.open();
    await server.close();
    await gateway.close();
    await upstream.stub.close();
    await testRedis.cleanup();
  });

  it('when a service lane is full, then the requests beyond the cap get 503 at once and the admitted ones are answered', async () => {
    const answered: request.Response[] = [];
    const all = Array.from({ length: MAX_IN_FLIGHT + EXTRA }, (_, i) =>
      request(url)
        .get(BOOK)
        .set('Origin', APP_ORIGIN)
        .set('X-Request-Id', `book-read-${i}`)
        .then((res) => {
          answered.push(res);
          return res;
        }),
    );

    // The shed requests come back while the admitted ones are still held by the upstream.
    await eventually(async () => answered.length === EXTRA && upstream.held.length === MAX_IN_FLIGHT);
    for (const res of answered) {
      expect(res.status).toBe(503);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(res.body).toMatchObject({ status: 503, code: 'UPSTREAM.OVERLOADED', title: 'Service Unavailable' });
      expect(res.body.requestId).toBe(res.headers['x-request-id']);
      expect(res.headers['x-request-id']).toMatch(/^book-read-\d$/);
      expect(JSON.stringify(res.body)).not.toContain('127.0.0.1');
      // Shed before express, it carries what every answer carries: the security headers, and CORS for a browser.
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['content-security-policy']).toBeDefined();
      expect(res.headers['access-control-allow-origin']).toBe(APP_ORIGIN);
      expect(res.headers['access-control-expose-headers']).toContain('Retry-After');
    }
    // A browser's preflight for the full lane is answered by the gateway, never shed.
    const preflight = await request(url)
      .options(BOOK)
      .set('Origin', APP_ORIGIN)
      .set('Access-Control-Request-Method', 'GET');
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe(APP_ORIGIN);
    // A request that names the gateway's host in its target (absolute-form) is counted in the same lane.
    const absolute = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: new URL(url).port, method: 'GET', path: `${url}${BOOK}` });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.end();
    });
    expect(absolute).toBe(503);
    // A shed request that declares a huge body gets its 503 and the connection closes: its body is never read.
    const huge = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(new URL(url).port), '127.0.0.1');
      let answer = '';
      socket.on('data', (chunk) => {
        answer += chunk.toString();
      });
      socket.on('end', () => resolve(answer));
      socket.on('error', reject);
      socket.write(`GET ${BOOK} HTTP/1.1\r\nHost: gateway\r\nContent-Length: ${64 * 1024 * 1024}\r\n\r\n`);
    });
    expect(huge).toMatch(/^HTTP\/1\.1 503 /);
    expect(huge.toLowerCase()).toContain('connection: close');
    expect(await metric('gateway_upstream_shed_total', 'service="order-book",lane="read"')).toBe(EXTRA + 2);
    expect(await metric('gateway_upstream_in_flight', 'service="order-book",lane="read"')).toBe(MAX_IN_FLIGHT);

    // Writes have a lane of their own: a full read lane does not shed them.
    const write = await request(url).post('/api/v1/orders').send({ side: 'BUY' });
    expect(write.status).toBe(201);

    upstream.open();
    const results = await Promise.all(all);
    expect(results.filter((res) => res.status === 200)).toHaveLength(MAX_IN_FLIGHT);
    expect(results.filter((res) => res.status === 503)).toHaveLength(EXTRA);

    // Once the admitted requests are done, the lane takes a full cap of new ones again.
    await eventually(
      async () => (await metric('gateway_upstream_in_flight', 'service="order-book",lane="read"')) === 0,
    );
    const again = await Promise.all(Array.from({ length: MAX_IN_FLIGHT }, () => request(url).get(BOOK)));
    expect(again.map((res) => res.status)).toEqual(Array(MAX_IN_FLIGHT).fill(200));
    expect(await metric('gateway_upstream_shed_total', 'service="order-book",lane="read"')).toBe(EXTRA + 2);
  });

  it('when a client goes away while its request is in flight, then its slot is given back', async () => {
    const before = await metric('gateway_upstream_in_flight', 'service="order-book",lane="write"');
    const req = http.request(`${url}/api/v1/orders/stuck`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    req.on('error', () => undefined);
    req.end('{}');
    await eventually(
      async () => (await metric('gateway_upstream_in_flight', 'service="order-book",lane="write"')) === before + 1,
    );
    req.destroy();
    await eventually(
      async () => (await metric('gateway_upstream_in_flight', 'service="order-book",lane="write"')) === before,
    );
  });
});

describe("a lane's adaptive limit, as operators see it", () => {
  it('when the upstream answers slower than the latency target with a queue in flight, then gateway_upstream_limit shows that lane cut below its maximum', async () => {
    const testRedis = await createTestRedis();
    const upstream = await startSlowOrderBook();
    const gateway = createTestGateway(
      testRedis,
      { 'order-book': [upstream.stub.url] },
      { UPSTREAM_MAX_IN_FLIGHT: '64', UPSTREAM_LATENCY_TARGET_MS: '10' },
    );
    const server = await listen(gateway.app);
    const limit = (lane: string) =>
      metricAt(server.url, 'gateway_upstream_limit', `service="order-book",lane="${lane}"`);
    try {
      expect([await limit('read'), await limit('write')]).toEqual([64, 64]);
      // 20 reads held for 60 ms, six times the target: once their average is over it with 16 in flight, one cut.
      const reads = Array.from({ length: 20 }, () =>
        request(server.url)
          .get(BOOK)
          .then((res) => res),
      );
      await eventually(async () => upstream.held.length === 20);
      await new Promise((resolve) => setTimeout(resolve, 60));
      upstream.open();
      expect((await Promise.all(reads)).every((res) => res.status === 200)).toBe(true);
      const cut = await limit('read');
      expect(cut).toBeGreaterThanOrEqual(ADAPTIVE_LIMIT_MIN);
      expect(cut).toBeLessThan(20);
      expect(await limit('write')).toBe(64);
    } finally {
      await server.close();
      await gateway.close();
      await upstream.stub.close();
      await testRedis.cleanup();
    }
  });
});
