import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import request from 'supertest';
import { authRedisKeys, REVOCATION_LEASE_MS_MAX, REVOCATION_SETTLE_MS } from '@orrange/http';
import { createLogger } from '@orrange/logger';
import { eventually } from '@orrange/testing';
import { INVALIDATIONS_OPTIONS, TRACKED_READS_OPTIONS, TrackedCache } from '../src/auth/tracked-cache';
import { createGatewayMetrics } from '../src/observability/metrics';
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

/** Records the name and arguments of every command the connections send, until stop(). */
function recordCommands(connections: Redis[]): string[][] & { stop(): void } {
  const sent: string[][] = [];
  for (const connection of connections) {
    const send = connection.sendCommand.bind(connection);
    Object.assign(connection, {
      sendCommand: (command: { name: string; args: unknown[] }, ...rest: unknown[]) => {
        sent.push([command.name.toLowerCase(), ...command.args.map(String)]);
        return (send as (...args: unknown[]) => unknown)(command, ...rest);
      },
    });
  }
  return Object.assign(sent, {
    stop: () => connections.forEach((connection) => Reflect.deleteProperty(connection, 'sendCommand')),
  });
}

/** The lease of the tests that drive a TrackedCache of their own. */
const LEASE_MS = 60;

/** Revoke, check, un-revoke this many times in a row: a revocation must never lose to the in-process copy. */
const REVOCATION_ROUNDS = 20;

describe('revocation lookups answered in-process while Redis tracking tells the gateway of every change', () => {
  let testRedis: TestRedis;
  let user: StubUpstream;
  let gateway: TestGateway;

  beforeAll(async () => {
    testRedis = await createTestRedis();
    user = await startStub('user');
    // These tests send hundreds of requests as one user: the per-client limit is not what they are about.
    gateway = createTestGateway(testRedis, { user: [user.url] }, { RATE_LIMIT_PER_MINUTE: '100000' });
    await tracking();
  });

  afterAll(async () => {
    await gateway.close();
    await user.close();
    await testRedis.cleanup();
  });

  const cache = () => gateway.resources.trackedCache;
  const tracking = () => eventually(async () => cache().state.tracking);
  const call = (token: string) => request(gateway.app).get('/api/v1/users/me').set('Authorization', `Bearer ${token}`);
  const statusOf = async (token: string) => (await call(token)).status;
  const counter = async (name: string, labels: Record<string, string>) => {
    const values = (await gateway.registry.getSingleMetric(name)!.get()).values;
    return values.find((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value))?.value ?? 0;
  };
  const lookups = (result: string) => counter('gateway_tracked_cache_lookups_total', { result });
  const clears = (reason: string) => counter('gateway_tracked_cache_clears_total', { reason });
  const unrevoke = async (key: string) => {
    await testRedis.redis.del(key);
    await revocationSettled();
  };

  /** A token for a user of its own, the user's min-generation key, and a way to revoke every token issued so far. */
  function userWithToken(userId: string) {
    const sessionId = randomUUID();
    const token = accessToken(gateway.config, userId, ['user'], { generation: 0, sessionId });
    const key = authRedisKeys.minGeneration(gateway.config.REDIS_PREFIX, userId);
    const sessionKey = authRedisKeys.revokedSession(gateway.config.REDIS_PREFIX, sessionId);
    const notBefore = '1';
    const revoke = async () => {
      await testRedis.redis.set(key, notBefore, 'EX', 900);
      await revocationSettled();
    };
    return { token, key, sessionKey, notBefore, revoke };
  }

  /** The id of the connection whose tracking redirects to `redirectId`: the gateway's tracked-reads connection. */
  async function readsConnectionId(redirectId: number): Promise<string | undefined> {
    const list = await testRedis.redis.client('LIST');
    return new RegExp(`^id=(\\d+) .* redir=${redirectId} `, 'm').exec(String(list))?.[1];
  }

  it('when a token is checked again, then no GET reaches Redis: one per revocation record for the first request, none for the next ones', async () => {
    const { token, key, sessionKey } = userWithToken('u-hit');
    const sent = recordCommands([
      gateway.resources.redis,
      gateway.resources.trackingConnections.reads,
      gateway.resources.trackingConnections.invalidations,
    ]);
    try {
      const hits = await lookups('hit');
      for (let i = 0; i < 3; i++) await call(token).expect(200);
      expect(sent.filter((args) => args.includes(key))).toEqual([['get', key]]);
      expect(sent.filter((args) => args.includes(sessionKey))).toEqual([['get', sessionKey]]);
      // Two records per request (the user's generation, the session), both from memory after the first.
      expect(await lookups('hit')).toBe(hits + 4);
    } finally {
      sent.stop();
    }
  });

  it('when another client sets, deletes or expires the not-before, then the next request once it settled sees it', async () => {
    const { token, key, notBefore, revoke } = userWithToken('u-changes');
    await call(token).expect(200);
    await call(token).expect(200);
    await revoke();
    expect(await statusOf(token)).toBe(401);
    await unrevoke(key);
    expect(await statusOf(token)).toBe(200);
    await revoke();
    expect(await statusOf(token)).toBe(401);
    await testRedis.redis.expire(key, 0); // a deadline in the past deletes the key
    await revocationSettled();
    expect(await statusOf(token)).toBe(200);
    await testRedis.redis.set(key, notBefore, 'PX', 1_000);
    await revocationSettled();
    expect(await statusOf(token)).toBe(401);
    // Redis expires the key by itself (no one reads it) and says so.
    await eventually(async () => (await statusOf(token)) === 200, { timeoutMs: 5_000 });
  });

  it(`when a token answered from memory is revoked, then the next request is refused (${REVOCATION_ROUNDS} rounds)`, async () => {
    const { token, key, revoke } = userWithToken('u-rounds');
    const hits = await lookups('hit');
    for (let round = 0; round < REVOCATION_ROUNDS; round++) {
      expect(await statusOf(token)).toBe(200);
      expect(await statusOf(token)).toBe(200);
      await revoke();
      expect(await statusOf(token)).toBe(401);
      await unrevoke(key);
    }
    expect(await lookups('hit')).toBeGreaterThanOrEqual(hits + REVOCATION_ROUNDS);
  });

  it('when the key changes while its GET is in flight, then that answer serves its own request but is not kept', async () => {
    const { token, key, revoke } = userWithToken('u-in-flight');
    const { reads, invalidations } = gateway.resources.trackingConnections;
    let invalidated = false;
    const listener = (_channel: Buffer, message: unknown) => {
      if (Array.isArray(message) && message.some((name) => String(name) === key)) invalidated = true;
    };
    invalidations.on('messageBuffer', listener);
    const get = reads.get.bind(reads) as (name: string) => Promise<string | null>;
    // Redis has answered, and the key changes before the answer reaches the cache: the invalidation comes first.
    Object.assign(reads, {
      get: async (name: string) => {
        const value = await get(name);
        await revoke();
        await eventually(async () => invalidated);
        return value;
      },
    });
    try {
      expect(await statusOf(token)).toBe(200);
    } finally {
      Reflect.deleteProperty(reads, 'get');
      invalidations.off('messageBuffer', listener);
    }
    expect(await statusOf(token)).toBe(401);
  });

  it('when the tracked-reads connection is killed, then memory is dropped, revocations meanwhile are honoured, and tracking comes back', async () => {
    const { token, key, revoke } = userWithToken('u-reads-killed');
    await tracking();
    await call(token).expect(200);
    await call(token).expect(200);
    const { redirectId } = cache().state;
    const readsId = await readsConnectionId(redirectId!);
    expect(readsId).toBeDefined();
    const lost = await clears('connection');

    await testRedis.redis.client('KILL', 'ID', readsId!);
    await revoke();
    expect(await statusOf(token)).toBe(401);
    // Had the answer above been kept without tracking, this would still be refused.
    await unrevoke(key);
    expect(await statusOf(token)).toBe(200);
    expect(await clears('connection')).toBe(lost + 1);

    await tracking();
    const newReadsId = await readsConnectionId(redirectId!);
    expect(newReadsId).toBeDefined();
    expect(newReadsId).not.toBe(readsId);
    await call(token).expect(200);
    await call(token).expect(200);
    await revoke();
    expect(await statusOf(token)).toBe(401);
  });

  it('when the invalidation subscriber is killed, then memory is dropped, revocations meanwhile are honoured, and tracking comes back on a new subscriber', async () => {
    const { token, key, revoke } = userWithToken('u-subscriber-killed');
    await tracking();
    await call(token).expect(200);
    await call(token).expect(200);
    const { redirectId } = cache().state;
    const lost = await clears('connection');

    await testRedis.redis.client('KILL', 'ID', String(redirectId));
    await revoke();
    expect(await statusOf(token)).toBe(401);
    await unrevoke(key);
    expect(await statusOf(token)).toBe(200);
    expect(await clears('connection')).toBe(lost + 1);

    await eventually(async () => cache().state.tracking && cache().state.redirectId !== redirectId);
    await call(token).expect(200);
    await call(token).expect(200);
    await revoke();
    expect(await statusOf(token)).toBe(401);
  });

  it('when a Redis database is flushed, then everything kept in-process is dropped', async () => {
    const { token } = userWithToken('u-flush');
    await tracking();
    await call(token).expect(200);
    expect(cache().state.entries).toBeGreaterThan(0);
    // Redis tells every tracking client of a flush of any database. Database 15 is used by nothing here, and
    // is checked to be empty, so flushing it costs no one anything.
    const spare = testRedis.redis.duplicate({ db: 15 });
    try {
      expect(await spare.dbsize()).toBe(0);
      const flushes = await clears('flush');
      const misses = await lookups('miss');
      await spare.flushdb();
      await call(token).expect(200);
      expect(await clears('flush')).toBeGreaterThan(flushes);
      expect(await lookups('miss')).toBe(misses + 2);
    } finally {
      spare.disconnect();
    }
  });
});

describe('the tracked cache on its own connections', () => {
  let testRedis: TestRedis;
  const opened: Redis[] = [];
  const caches: TrackedCache[] = [];

  beforeAll(async () => {
    testRedis = await createTestRedis();
  });

  afterAll(async () => {
    caches.forEach((c) => c.close());
    await Promise.all(
      opened.map((connection) => (connection.status === 'ready' ? connection.quit() : connection.disconnect())),
    );
    await testRedis.cleanup();
  });

  function trackedCache(options: { invalidationsUrl?: string; entriesMax?: number; leaseMs?: number } = {}) {
    const connect = (url: string, extra = {}) => {
      const connection = new Redis(url, {
        maxRetriesPerRequest: 1,
        retryStrategy: () => 200,
        disconnectTimeout: 100,
        ...extra,
      });
      connection.on('error', () => undefined);
      opened.push(connection);
      return connection;
    };
    const registry = new Registry();
    const metrics = createGatewayMetrics(registry);
    const fallback = connect(testRedis.url);
    const cache = new TrackedCache({
      reads: connect(testRedis.url, TRACKED_READS_OPTIONS),
      invalidations: connect(options.invalidationsUrl ?? testRedis.url, INVALIDATIONS_OPTIONS),
      fallback,
      metrics,
      logger: createLogger('gateway', 'silent'),
      entriesMax: options.entriesMax,
      leaseMs: options.leaseMs,
    });
    caches.push(cache);
    const invalidations = opened[opened.length - 1]!;
    const lookups = async (result: string) =>
      (await metrics.trackedLookups.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
    const pings = async () => (await metrics.trackedPings.get()).values[0]?.value ?? 0;
    return { cache, lookups, invalidations, pings };
  }

  it('when it is full, then the oldest entry is dropped and asked again', async () => {
    const { cache, lookups } = trackedCache({ entriesMax: 2 });
    await eventually(async () => cache.state.tracking);
    const [a, b, c] = ['a', 'b', 'c'].map((name) => `${testRedis.prefix}:${name}`);
    await testRedis.redis.set(a!, 'A');
    for (const key of [a!, b!, c!]) await cache.get(key);
    expect(cache.state.entries).toBe(2);
    const misses = await lookups('miss');
    expect(await cache.get(c!)).toBeNull();
    expect(await cache.get(b!)).toBeNull();
    expect(await lookups('miss')).toBe(misses);
    expect(await cache.get(a!)).toBe('A');
    expect(await lookups('miss')).toBe(misses + 1);
  });

  it('when many lookups of cached keys come in one turn, then one PING answers them all and no GET is sent', async () => {
    const { cache, lookups } = trackedCache();
    await eventually(async () => cache.state.tracking);
    const keys = Array.from({ length: 10 }, (_, i) => `${testRedis.prefix}:shared-${i}`);
    for (const key of keys) await cache.get(key);
    const sent = recordCommands(opened);
    try {
      const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => cache.get(keys[i % keys.length]!)));
      expect(answers.every((answer) => answer === null)).toBe(true);
      expect([...sent]).toEqual([['ping']]);
      expect(await lookups('hit')).toBe(100);
    } finally {
      sent.stop();
    }
  });

  it('when hits keep coming within the lease, then they wait for no PING: one goes out once half the lease has passed', async () => {
    const { cache, lookups, pings: pingsCounted } = trackedCache({ leaseMs: LEASE_MS });
    await eventually(async () => cache.state.tracking);
    const key = `${testRedis.prefix}:leased`;
    await cache.get(key); // a miss: a GET
    await cache.get(key); // the first hit waits for a PING, whose pong starts the lease
    const sent = recordCommands(opened);
    const hits = await lookups('hit');
    const counted = await pingsCounted();
    const startedAt = performance.now();
    try {
      let answered = 0;
      // A hit every turn of the event loop (the pongs come in between) for three leases.
      while (performance.now() - startedAt < 3 * LEASE_MS) {
        expect(await cache.get(key)).toBeNull();
        answered += 1;
        await new Promise((resolve) => setImmediate(resolve));
      }
      const elapsedMs = performance.now() - startedAt;
      expect(await lookups('hit')).toBe(hits + answered);
      const pings = sent.filter(([name]) => name === 'ping').length;
      // One PING per half lease (one more after a stall past the lease); without the lease, one per turn's hits.
      expect(pings).toBeGreaterThanOrEqual(2);
      expect(pings).toBeLessThanOrEqual(elapsedMs / (LEASE_MS / 2) + 2);
      expect(pings).toBeLessThan(answered / 10);
      expect(sent.filter(([name]) => name !== 'ping')).toEqual([]);
      // The metric counts them too (a renewal may leave between the two reads).
      expect((await pingsCounted()) - counted).toBeGreaterThanOrEqual(pings);
    } finally {
      sent.stop();
    }
  });

  it('when the invalidations stop arriving, then hits are answered from memory only within the lease, and after it wait for the pong, which brings the invalidation first', async () => {
    // A long lease, so that a busy machine cannot let it lapse between the hits that must be answered within it.
    const leaseMs = 1_000;
    const { cache, invalidations } = trackedCache({ leaseMs });
    await eventually(async () => cache.state.tracking);
    const key = `${testRedis.prefix}:stalled`;
    await testRedis.redis.set(key, 'v1');
    expect(await cache.get(key)).toBe('v1'); // a miss
    expect(await cache.get(key)).toBe('v1'); // a hit: its PING starts the lease
    invalidations.stream.pause(); // what Redis sends the subscriber from now on stays in its socket
    try {
      expect(await cache.get(key)).toBe('v1'); // within the lease: no PING needed
      await testRedis.redis.set(key, 'v2'); // its invalidation is held up
      // What the user service would wait with this lease: the lease and the same margin over it.
      await new Promise((resolve) => setTimeout(resolve, leaseMs + REVOCATION_SETTLE_MS - REVOCATION_LEASE_MS_MAX));
      let answer: string | null | undefined;
      const lookup = cache.get(key).then((value) => (answer = value));
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(answer).toBeUndefined(); // waits for a pong that cannot come yet: never the stale v1
      invalidations.stream.resume();
      await lookup;
      expect(answer).toBe('v2');
    } finally {
      invalidations.stream.resume();
    }
  });

  it('when tracking cannot be set up (no subscriber), then every lookup is a GET on the fallback and nothing is kept', async () => {
    const { cache, lookups } = trackedCache({ invalidationsUrl: (await closedUrl()).replace('http:', 'redis:') });
    const key = `${testRedis.prefix}:untracked`;
    await testRedis.redis.set(key, 'v1');
    expect(await cache.get(key)).toBe('v1');
    await testRedis.redis.set(key, 'v2');
    expect(await cache.get(key)).toBe('v2');
    expect(await lookups('untracked')).toBe(2);
    expect(cache.state).toMatchObject({ tracking: false, entries: 0 });
  });
});
