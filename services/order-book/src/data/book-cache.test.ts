import type { Redis } from 'ioredis';
import type { Database } from '@orrange/db';
import { createLogger } from '@orrange/logger';
import { createTestRedis, type TestRedis } from '@orrange/testing';
import { BOOK_LOCAL_TTL_MS, BOOK_RENEW_AFTER_MS, BookCache, type BookSnapshot } from './book-cache';

describe('BookCache reads', () => {
  let testRedis: TestRedis;

  beforeAll(async () => {
    testRedis = await createTestRedis();
  });

  afterAll(async () => {
    jest.restoreAllMocks();
    await testRedis.cleanup();
  });

  const stored = (sequence: number): BookSnapshot => ({
    asset: 'BTC',
    fiatCurrency: 'USD',
    bids: [{ price: `${100 + sequence}.00`, amount: '1.00000000', orderCount: 1 }],
    asks: [],
    sequence,
    updatedAt: null,
  });

  it('when a copy in memory nears its expiry, then a read still answers from it and renews it from Redis, so that no read waits', async () => {
    // Redis answers the cache's GETs only when the test opens the gate; the clock moves only when the test moves it.
    const start = Date.now();
    const clock = jest.spyOn(Date, 'now').mockReturnValue(start);
    let gets = 0;
    let open = () => {};
    let gate = Promise.resolve();
    const gated = {
      get: async (key: string) => {
        gets++;
        await gate;
        return testRedis.redis.get(key);
      },
    } as unknown as Redis;
    const key = `${testRedis.prefix}:book:BTC:USD`;
    // The cache loads from Redis only: Redis holds a copy at every read, so Postgres is never asked.
    const cache = new BookCache({
      db: {} as Database,
      redis: gated,
      prefix: testRedis.prefix,
      logger: createLogger('order-book', 'silent'),
    });
    await testRedis.redis.set(key, JSON.stringify(stored(1)));
    expect((await cache.read('BTC', 'USD', 10)).sequence).toBe(1);
    expect(gets).toBe(1);

    // Another replica stores a newer copy; ours is still young: memory answers, Redis is not asked.
    await testRedis.redis.set(key, JSON.stringify(stored(2)));
    clock.mockReturnValue(start + BOOK_RENEW_AFTER_MS - 1);
    expect((await cache.read('BTC', 'USD', 10)).sequence).toBe(1);
    expect(gets).toBe(1);

    // Past the renewal age, while Redis does not answer: the read answers from memory at once and asks Redis.
    gate = new Promise((resolve) => {
      open = resolve;
    });
    clock.mockReturnValue(start + BOOK_RENEW_AFTER_MS + 1);
    expect((await cache.read('BTC', 'USD', 10)).sequence).toBe(1);
    expect((await cache.read('BTC', 'USD', 10)).sequence).toBe(1);
    expect(gets).toBe(2);

    // Once Redis answers, reads see the newer copy, and it counts as fresh from then on.
    open();
    for (let i = 0; i < 100 && (await cache.read('BTC', 'USD', 10)).sequence !== 2; i++)
      await new Promise((resolve) => setImmediate(resolve));
    expect((await cache.read('BTC', 'USD', 10)).sequence).toBe(2);
    clock.mockReturnValue(start + BOOK_LOCAL_TTL_MS + 10);
    expect((await cache.read('BTC', 'USD', 10)).sequence).toBe(2);
    expect(gets).toBe(2);
  });
});
