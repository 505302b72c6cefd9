import type { Options } from 'express-rate-limit';
import type { Redis } from 'ioredis';
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
  /** Waits for a lease asked for in the background to be recorded (Redis answers within milliseconds). */
  const until = async (done: () => Promise<boolean>) => {
    for (let i = 0; i < 100 && !(await done()); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await done()).toBe(true);
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
    // Every hit let through was taken in Redis before: leases of 16, the next taken when 8 of the last are left (at
    // hits 8, 24 and 40), so four once the last has come back.
    await until(async () => (await takenInRedis(store!, 'ip:a')) === 64);
  });

  it('when a client keeps coming, then the next lease is asked for while half of the last is in hand, and no hit waits for it', async () => {
    // Redis answers the store's lease requests only when the test opens the gate.
    let open = () => {};
    let gate = Promise.resolve();
    const close = () => {
      gate = new Promise((resolve) => {
        open = resolve;
      });
    };
    let asked = 0;
    const gated = {
      eval: async (...args: Parameters<Redis['eval']>) => {
        asked++;
        await gate;
        return testRedis.redis.eval(...args);
      },
    } as unknown as Redis;
    const store = new LeasedRedisStore(gated, `${testRedis.prefix}:rl:${n++}:`);
    store.init({ limit: 1000, windowMs: 60_000 } as Options);
    stores.push(store);

    expect((await store.increment('user:g')).totalHits).toBe(1);
    close();
    const inHand: number[] = [];
    for (let i = 0; i < 15; i++) inHand.push((await store.increment('user:g')).totalHits);
    // The second lease was asked for at hit 8 and Redis has not answered: hits 9-16 came from the first one.
    expect(inHand).toEqual(Array.from({ length: 15 }, (_, i) => i + 2));
    expect(asked).toBe(2);
    // With none in hand, a hit waits for the lease already asked for rather than asking for another.
    let seventeenth: number | undefined;
    const waiting = store.increment('user:g').then((info) => {
      seventeenth = info.totalHits;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(seventeenth).toBeUndefined();
    open();
    await waiting;
    expect(seventeenth).toBe(17);
    expect(asked).toBe(2);
    expect(await takenInRedis(store, 'user:g')).toBe(32);
  });

  it('when a lease is taken ahead of need, then the hits still in hand when it comes are kept beside it', async () => {
    const [store] = replicas(1, 1000);
    for (let i = 0; i < 8; i++) await store!.increment('user:h');
    await until(async () => (await takenInRedis(store!, 'user:h')) === 32);
    // 8 of the first lease and 16 of the second: 24 more hits before the store needs Redis again.
    const hits: number[] = [];
    for (let i = 0; i < 24; i++) hits.push((await store!.increment('user:h')).totalHits);
    expect(hits).toEqual(Array.from({ length: 24 }, (_, i) => i + 9));
    await until(async () => (await takenInRedis(store!, 'user:h')) === 48);
  });

  it('when a client comes near its limit, then its leases are no longer taken ahead of need', async () => {
    const [store] = replicas(1, 100);
    for (let i = 0; i < 60; i++) await store!.increment('user:i');
    await new Promise((resolve) => setTimeout(resolve, 50));
    // 16, then 16 and 16 ahead (at hits 8 and 24, with 84 and 68 of the 100 left); with 52 left, the next (13, a
    // quarter) only when hit 49 found none in hand, and none after it: 61 taken for 60 hits.
    expect(await takenInRedis(store!, 'user:i')).toBe(61);
  });

  it('when many requests of one client arrive at once, then they share one lease', async () => {
    const [store] = replicas(1, 1000);
    const hits = await Promise.all(Array.from({ length: 16 }, () => store!.increment('ip:b')));
    expect(hits.map((h) => h.totalHits).sort((a, b) => a - b)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    // One lease for the 16, and the next, asked for once half of it was spent.
    await until(async () => (await takenInRedis(store!, 'ip:b')) === 32);
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
