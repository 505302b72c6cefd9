import type { Options } from 'express-rate-limit';
import { createTestRedis, type TestRedis } from '@orrange/testing';
import { LeasedRedisStore } from '../src/limits/leased-redis-store';

describe('LeasedRedisStore', () => {
  let testRedis: TestRedis;
  const stores: LeasedRedisStore[] = [];
  let n = 0;

  /** `replicas` stores sharing one budget in Redis, as gateway replicas do. */
  const replicas = (count: number, limit: number, windowMs = 60_000) => {
    const prefix = `${testRedis.prefix}:rl:${n++}:`;
    return Array.from({ length: count }, () => {
      const store = new LeasedRedisStore(testRedis.redis, prefix);
      store.init({ limit, windowMs } as Options);
      stores.push(store);
      return store;
    });
  };
  const takenInRedis = async (store: LeasedRedisStore, key: string) =>
    Number(await testRedis.redis.get(store.prefix + key));

  beforeAll(async () => {
    testRedis = await createTestRedis();
  });

  afterAll(async () => {
    for (const store of stores) store.shutdown();
    await testRedis.cleanup();
  });

  it('when a client stays well under its limit, then hits are counted one by one but taken from Redis in leases of 16', async () => {
    const [store] = replicas(1, 1000);
    const hits: number[] = [];
    for (let i = 0; i < 40; i++) hits.push((await store!.increment('ip:a')).totalHits);
    expect(hits).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    // Three leases of 16: every hit let through was taken in Redis before.
    expect(await takenInRedis(store!, 'ip:a')).toBe(48);
  });

  it('when many requests of one client arrive at once, then they share one lease', async () => {
    const [store] = replicas(1, 1000);
    const hits = await Promise.all(Array.from({ length: 16 }, () => store!.increment('ip:b')));
    expect(hits.map((h) => h.totalHits).sort((a, b) => a - b)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    expect(await takenInRedis(store!, 'ip:b')).toBe(16);
  });

  it('when replicas share a budget, then together they never let more than the limit through, and every lease is accounted for', async () => {
    const limit = 50;
    const three = replicas(3, limit);
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => three[i % 3]!.increment('user:c')));
    // Each replica has more requests than the whole budget, so no lease is left unspent: exactly the limit.
    expect(results.filter((r) => r.totalHits <= limit)).toHaveLength(limit);
    expect(await takenInRedis(three[0]!, 'user:c')).toBe(limit);
  });

  it('when the budget is spent, then further hits are refused without taking anything more from Redis', async () => {
    const [store] = replicas(1, 5);
    const hits: number[] = [];
    for (let i = 0; i < 8; i++) hits.push((await store!.increment('ip:d')).totalHits);
    expect(hits).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(await takenInRedis(store!, 'ip:d')).toBe(5);
  });

  it('when the window ends, then the budget is whole again', async () => {
    const [store] = replicas(1, 2, 300);
    await store!.increment('ip:e');
    await store!.increment('ip:e');
    const refused = await store!.increment('ip:e');
    expect(refused.totalHits).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, refused.resetTime!.getTime() - Date.now()) + 50));
    expect((await store!.increment('ip:e')).totalHits).toBe(1);
  });

  it('when a key is reset, then its budget is whole again in Redis too', async () => {
    const [store, other] = replicas(2, 3);
    for (let i = 0; i < 3; i++) await store!.increment('ip:f');
    await store!.resetKey('ip:f');
    expect(await testRedis.redis.exists(`${store!.prefix}ip:f`)).toBe(0);
    expect((await other!.increment('ip:f')).totalHits).toBe(1);
  });
});
