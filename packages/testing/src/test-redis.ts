import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { redisTlsOptions } from '@orrange/config';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface TestRedis {
  url: string;
  /** A prefix no other test run uses; every key and queue of the suite lives under it. */
  prefix: string;
  /** A connection for the test's own use (closed by cleanup). */
  redis: Redis;
  /** Deletes every key under the prefix and closes the connection. */
  cleanup(): Promise<void>;
}

export async function createTestRedis(): Promise<TestRedis> {
  const prefix = `orrange-test-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const redis = new Redis(TEST_REDIS_URL, {
    ...redisTlsOptions(TEST_REDIS_URL, process.env.REDIS_TLS_CA_FILE),
    lazyConnect: true,
    maxRetriesPerRequest: 3,
  });
  await redis.connect();
  return {
    url: TEST_REDIS_URL,
    prefix,
    redis,
    async cleanup() {
      await deleteKeys(redis, `${prefix}*`);
      redis.disconnect();
    },
  };
}

export async function deleteKeys(redis: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    if (keys.length) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}
