import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { liveKeys, LIVE_USER_MAXLEN, publishLiveEvents } from '@orrange/runtime/live-events';
import { openSse, type SseClient, type SseEvent } from '@orrange/testing';
import {
  accessToken,
  createTestGateway,
  createTestRedis,
  listen,
  startStub,
  type Listening,
  type StubUpstream,
  type TestGateway,
  type TestRedis,
} from './harness';

const named = (events: SseEvent[], name: string) => events.filter((e) => e.event === name);

describe('gateway live updates (Server-Sent Events)', () => {
  let testRedis: TestRedis;
  let orderBook: StubUpstream;
  let users: StubUpstream;
  let gateway: TestGateway;
  let server: Listening;
  const opened: SseClient[] = [];
  const open = async (path: string, headers?: Record<string, string>) => {
    const client = await openSse(`${server.url}${path}`, headers, 5_000);
    opened.push(client);
    return client;
  };
  const bearer = (userId: string) => ({ authorization: `Bearer ${accessToken(gateway.config, userId)}` });
  const publish = (userId: string, type: 'order.updated' | 'trade.updated', data: unknown) =>
    publishLiveEvents(testRedis.redis, testRedis.prefix, [{ userId, type, data }], (error) => {
      throw error;
    });

  beforeAll(async () => {
    testRedis = await createTestRedis();
    orderBook = await startStub('order-book', (app) => {
      app.get('/api/v1/orderbook', (req, res) => {
        if (req.query.asset === 'DOGE')
          return void res
            .status(404)
            .type('application/problem+json')
            .json({ status: 404, code: 'MARKET.NOT_FOUND', title: 'Not Found' });
        res.json({
          asset: req.query.asset,
          fiatCurrency: req.query.fiatCurrency,
          bids: [],
          asks: [{ price: '50000', amount: '1', orderCount: 1 }],
          sequence: 5,
          updatedAt: null,
        });
      });
    });
    users = await startStub('user', (app) => {
      app.post('/internal/api-keys/resolve', (_req, res) =>
        res.json({ userId: 'key-owner', roles: ['user'], scopes: ['trade'] }),
      );
    });
    gateway = createTestGateway(
      testRedis,
      { 'order-book': [orderBook.url], user: [users.url] },
      { STREAM_HEARTBEAT_MS: '200' },
    );
    server = await listen(gateway.app);
  });

  afterEach(() => {
    for (const client of opened.splice(0)) client.close();
  });

  afterAll(async () => {
    await server.close();
    await gateway.close();
    await orderBook.close();
    await users.close();
    await testRedis.cleanup();
  });

  it('when no credentials are given, then the user stream and tickets answer 401 problem+json', async () => {
    const stream = await open('/api/v1/stream');
    expect(stream.status).toBe(401);
    expect(stream.contentType).toContain('application/problem+json');
    const ticket = await request(gateway.app).post('/api/v1/stream/tickets');
    expect(ticket.status).toBe(401);
  });

  it('when an API key lacks the read scope, then its stream is refused with 403', async () => {
    const stream = await open('/api/v1/stream', { 'x-api-key': 'orr_test_key_without_read' });
    expect(stream.status).toBe(403);
    expect(JSON.parse(stream.body)).toMatchObject({ code: 'AUTH.SCOPE_MISSING' });
  });

  it("when a ticket is redeemed, then the stream is the ticket owner's, and the same ticket a second time is 401", async () => {
    const userId = randomUUID();
    const issued = await request(gateway.app).post('/api/v1/stream/tickets').set(bearer(userId));
    expect(issued.status).toBe(201);
    expect(issued.body.ticket).toMatch(/^[\w-]{43}$/);
    expect(Date.parse(issued.body.expiresAt) - Date.now()).toBeGreaterThan(55_000);
    const stream = await open(`/api/v1/stream?ticket=${issued.body.ticket}`);
    expect(stream.status).toBe(200);
    expect(stream.contentType).toContain('text/event-stream');
    await stream.waitFor(({ events }) => events.some((e) => e.comment === 'heartbeat'));
    await publish(userId, 'order.updated', { id: 'o-1', status: 'OPEN' });
    const [event] = named(
      await stream.waitFor(({ events }) => named(events, 'order.updated').length === 1),
      'order.updated',
    );
    expect(JSON.parse(event!.data!)).toEqual({ id: 'o-1', status: 'OPEN' });
    expect(event!.id).toMatch(/^\d+-\d+$/);

    const again = await open(`/api/v1/stream?ticket=${issued.body.ticket}`);
    expect(again.status).toBe(401);
    expect(JSON.parse(again.body)).toMatchObject({ code: 'STREAM.INVALID_TICKET' });
  });

  it('when a ticket is older than its 60 s, then it is refused', async () => {
    const issued = await request(gateway.app).post('/api/v1/stream/tickets').set(bearer(randomUUID()));
    const [, keys] = await testRedis.redis.scan('0', 'MATCH', `${testRedis.prefix}:live:ticket:*`, 'COUNT', 1000);
    expect(keys.length).toBeGreaterThan(0);
    expect(await testRedis.redis.ttl(keys[0]!)).toBeLessThanOrEqual(60);
    for (const key of keys) await testRedis.redis.pexpire(key, 1); // time passing, without a minute's wait
    await new Promise((resolve) => setTimeout(resolve, 20));
    const stream = await open(`/api/v1/stream?ticket=${issued.body.ticket}`);
    expect(stream.status).toBe(401);
  });

  it('when a user opens a sixth stream, then it is 429 problem+json; closing one frees its slot at once', async () => {
    const userId = randomUUID();
    const five = await Promise.all(Array.from({ length: 5 }, () => open('/api/v1/stream', bearer(userId))));
    expect(five.map((s) => s.status)).toEqual([200, 200, 200, 200, 200]);
    const sixth = await open('/api/v1/stream', bearer(userId));
    expect(sixth.status).toBe(429);
    expect(sixth.contentType).toContain('application/problem+json');
    expect(JSON.parse(sixth.body)).toMatchObject({ code: 'STREAM.TOO_MANY' });
    expect((await open('/api/v1/stream', bearer(randomUUID()))).status).toBe(200); // another user is not affected

    five[0]!.close();
    const slots = `${testRedis.prefix}:live:slots:${userId}`;
    for (let i = 0; i < 50 && (await testRedis.redis.zcard(slots)) > 4; i += 1)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await open('/api/v1/stream', bearer(userId))).status).toBe(200);
  });

  it("when a gateway died with a user's streams open, then their slots come back once the leases end", async () => {
    const userId = randomUUID();
    const slots = `${testRedis.prefix}:live:slots:${userId}`;
    // Five streams of a gateway that crashed: leases nobody renews any more, ended a moment ago.
    for (let i = 0; i < 5; i += 1) await testRedis.redis.zadd(slots, Date.now() - 1, `crashed-${i}`);
    const stream = await open('/api/v1/stream', bearer(userId));
    expect(stream.status).toBe(200);
    expect(await testRedis.redis.zcard(slots)).toBe(1);
  });

  it("when a client resumes with Last-Event-ID, then it gets exactly what it missed, and nobody gets another user's events", async () => {
    const alice = randomUUID();
    const stranger = randomUUID();
    const first = await open('/api/v1/stream', bearer(alice));
    const strangers = await open('/api/v1/stream', bearer(stranger));
    await publish(alice, 'trade.updated', { id: 't-1', status: 'AWAITING_PAYMENT' });
    const [seen] = named(
      await first.waitFor(({ events }) => named(events, 'trade.updated').length === 1),
      'trade.updated',
    );
    first.close();
    await publish(alice, 'trade.updated', { id: 't-1', status: 'PAID' });
    await publish(alice, 'trade.updated', { id: 't-1', status: 'COMPLETED' });

    const resumed = await open('/api/v1/stream', { ...bearer(alice), 'last-event-id': seen!.id! });
    expect(resumed.status).toBe(200);
    await publish(alice, 'order.updated', { id: 'o-9', status: 'FILLED' });
    const events = await resumed.waitFor(({ events: all }) => all.filter((e) => e.event).length >= 3);
    expect(events.filter((e) => e.event).map((e) => [e.event, JSON.parse(e.data!).status])).toEqual([
      ['trade.updated', 'PAID'],
      ['trade.updated', 'COMPLETED'],
      ['order.updated', 'FILLED'],
    ]);
    const ids = events.filter((e) => e.id).map((e) => e.id!);
    expect(new Set(ids).size).toBe(ids.length);
    await strangers.waitFor(({ events: all }) => all.filter((e) => e.comment === 'heartbeat').length >= 2);
    expect(strangers.events.filter((e) => e.event)).toEqual([]);
  });

  it('when Last-Event-ID is older than the retention or malformed, then the stream starts with a resync event', async () => {
    const userId = randomUUID();
    const old = await open('/api/v1/stream', { ...bearer(userId), 'last-event-id': `${Date.now() - 11 * 60_000}-0` });
    expect(
      JSON.parse(named(await old.waitFor(({ events: e }) => named(e, 'resync').length === 1), 'resync')[0]!.data!),
    ).toEqual({ reason: 'RETENTION_PASSED' });
    const garbage = await open('/api/v1/stream', { ...bearer(userId), 'last-event-id': 'not-an-id' });
    expect(
      JSON.parse(named(await garbage.waitFor(({ events: e }) => named(e, 'resync').length === 1), 'resync')[0]!.data!),
    ).toEqual({ reason: 'UNKNOWN_EVENT_ID' });
  });

  it("when the events after a client's Last-Event-ID were trimmed by the per-user cap, then it is told to resync", async () => {
    const userId = randomUUID();
    await publish(userId, 'order.updated', { id: 'first' });
    const firstId = (await testRedis.redis.xrange(liveKeys.user(testRedis.prefix, userId), '-', '+'))[0]![0];
    // More events than a user's stream keeps: the oldest ones, the first among them, are trimmed.
    const many = Array.from({ length: LIVE_USER_MAXLEN + 300 }, (_, i) => ({
      userId,
      type: 'order.updated' as const,
      data: { id: `o-${i}` },
    }));
    await publishLiveEvents(testRedis.redis, testRedis.prefix, many);
    const stream = await open('/api/v1/stream', { ...bearer(userId), 'last-event-id': firstId! });
    await stream.waitFor(({ events: e }) => named(e, 'resync').length === 1);
    expect(JSON.parse(named(stream.events, 'resync')[0]!.data!)).toEqual({ reason: 'TOO_FAR_BEHIND' });
    expect(named(stream.events, 'order.updated')).toEqual([]);
  });

  it('when a user stream is idle, then a comment heartbeat comes at the configured interval', async () => {
    const stream = await open('/api/v1/stream', bearer(randomUUID()));
    const started = Date.now();
    await stream.waitFor(({ events }) => events.filter((e) => e.comment === 'heartbeat').length >= 3, 3_000);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('when the public book stream is opened, then a snapshot comes first and then only newer book events with their sequence', async () => {
    const book = await open('/api/v1/stream/orderbook?asset=BTC&fiatCurrency=EUR');
    expect(book.status).toBe(200);
    const [snapshot] = named(await book.waitFor(({ events: e }) => named(e, 'snapshot').length === 1), 'snapshot');
    expect(JSON.parse(snapshot!.data!)).toMatchObject({ asset: 'BTC', fiatCurrency: 'EUR', sequence: 5 });
    const add = (sequence: number, market = 'BTC:EUR') =>
      testRedis.redis.xadd(
        liveKeys.books(testRedis.prefix),
        '*',
        'm',
        market,
        's',
        String(sequence),
        'd',
        JSON.stringify({ asset: market.split(':')[0], sequence }),
      );
    await add(4); // older than the snapshot: never sent
    await add(6, 'ETH:EUR'); // another market
    await add(7);
    const events = await book.waitFor(({ events: e }) => named(e, 'book').length >= 1);
    expect(named(events, 'book').map((e) => [e.id, JSON.parse(e.data!).sequence])).toEqual([['7', 7]]);
  });

  it('when the book stream is asked for a malformed or unknown market, then it is a 4xx problem+json', async () => {
    const malformed = await open('/api/v1/stream/orderbook?asset=btc');
    expect(malformed.status).toBe(400);
    expect(JSON.parse(malformed.body)).toMatchObject({ code: 'VALIDATION.FAILED' });
    const unknown = await open('/api/v1/stream/orderbook?asset=DOGE&fiatCurrency=EUR');
    expect(unknown.status).toBe(404);
  });
});
