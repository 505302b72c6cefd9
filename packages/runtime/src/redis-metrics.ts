import type { Redis } from 'ioredis';
import { Gauge, type Registry } from 'prom-client';

/** A scrape never waits longer than this for Redis: a Redis that does not answer leaves the gauges as they were. */
const INFO_TIMEOUT_MS = 1_000;

/** One `field:value` line of Redis's INFO text, as a number. */
export function infoNumber(info: string, field: string): number | undefined {
  const match = new RegExp(`^${field}:(\\d+)\\r?$`, 'm').exec(info);
  return match ? Number(match[1]) : undefined;
}

/**
 * The Redis every service shares (queues, rate limits, live updates), on /metrics: its memory use against
 * `maxmemory` (queues must never be evicted: it runs with noeviction, so a full Redis refuses writes) and its
 * client connections. Read with INFO at scrape time.
 */
export function redisGauges(registry: Registry, redis: Redis): void {
  const info = () =>
    Promise.race([
      redis.info().catch(() => undefined),
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), INFO_TIMEOUT_MS).unref()),
    ]);
  const gauge = (name: string, help: string, field: string) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const value = infoNumber((await info()) ?? '', field);
        if (value !== undefined) this.set(value);
      },
    });
  gauge('redis_memory_used_bytes', 'Memory Redis uses (INFO used_memory)', 'used_memory');
  gauge('redis_memory_max_bytes', 'Redis maxmemory (0: no limit)', 'maxmemory');
  gauge('redis_connected_clients', 'Client connections to Redis, from every process', 'connected_clients');
}
