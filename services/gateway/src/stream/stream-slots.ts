import type { Redis } from 'ioredis';

/**
 * Takes one of a user's stream slots, or refuses: a sorted set per user whose members are open streams and whose
 * scores are their leases' ends. Expired leases (a gateway that crashed with streams open) are dropped first, so
 * nobody stays locked out for longer than one lease.
 */
const ACQUIRE = `
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

/** Extends a held lease; 0 when it was lost (expired and dropped), so the stream closes rather than run uncounted. */
const RENEW = `
local now = tonumber(ARGV[1])
if not redis.call('ZSCORE', KEYS[1], ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

/**
 * Open streams per user, counted in Redis so that every gateway replica shares one count (API.md: more than
 * `max` streams → 429). Each stream holds a lease it renews with its heartbeat; closing a stream gives the slot
 * back at once, a crashed gateway's slots come back when their leases end (`leaseMs`).
 */
export class StreamSlots {
  constructor(private readonly deps: { redis: Redis; prefix: string; max: number; leaseMs: number }) {}

  private key(userId: string): string {
    return `${this.deps.prefix}:live:slots:${userId}`;
  }

  async acquire(userId: string, streamId: string): Promise<boolean> {
    const { redis, max, leaseMs } = this.deps;
    return (await redis.eval(ACQUIRE, 1, this.key(userId), Date.now(), leaseMs, max, streamId)) === 1;
  }

  async renew(userId: string, streamId: string): Promise<boolean> {
    return (await this.deps.redis.eval(RENEW, 1, this.key(userId), Date.now(), this.deps.leaseMs, streamId)) === 1;
  }

  async release(userId: string, streamId: string): Promise<void> {
    await this.deps.redis.zrem(this.key(userId), streamId);
  }
}
