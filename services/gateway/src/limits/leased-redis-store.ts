import type { ClientRateLimitInfo, Options, Store } from 'express-rate-limit';
import type { Redis } from 'ioredis';

/** A lease takes at most this share of what is left of a budget… */
const LEASE_SHARE = 4;
/** …and at most this many hits. */
const LEASE_MAX = 16;
/**
 * The next lease is asked for, in the background, once a lease of more than one hit is down to this share of it
 * (half), so that a client who keeps coming finds hits in hand instead of waiting for Redis on every 16th request:
 * at the bench's 500 signed-in reads/s over 20 users that was 1 request in 16, and their p99.
 */
const REFILL_AT_SHARE = 2;
/**
 * …but only while this much of the budget is left after the lease: near the limit, hits one replica holds are hits
 * the others cannot give, and a client there waits for Redis per lease as before (with the default 100 a minute, a
 * client's second and third leases are taken ahead, the rest when needed).
 */
const REFILL_HEADROOM = 4 * LEASE_MAX;
/**
 * Clients remembered per replica: past this, the oldest lease is forgotten (its unspent hits are lost, which only
 * refuses early), so a flood of new addresses cannot grow the gateway's memory without bound.
 */
const LEASES_MAX = 100_000;

/**
 * Takes up to `want` hits of a fixed window's budget and answers [hits taken in the window, granted, ms left].
 * A refused lease takes nothing: the replica refuses locally until the window ends.
 */
const LEASE_SCRIPT = `
local limit = tonumber(ARGV[1])
local taken = tonumber(redis.call('GET', KEYS[1]) or '0')
local granted = math.max(0, math.min(tonumber(ARGV[2]), limit - taken))
if granted > 0 then taken = redis.call('INCRBY', KEYS[1], granted) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  if granted > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
  ttl = tonumber(ARGV[3])
end
return { taken, granted, ttl }`;

interface Lease {
  /** Hits of the window taken in Redis, by every replica, as of our last lease. */
  taken: number;
  /** Of those, leased to this replica and not spent yet. */
  unspent: number;
  resetTime: Date;
  /** Once `unspent` is down to this, the next lease is asked for ahead of need (0: not ahead, see REFILL_HEADROOM). */
  refillAt: number;
}

/**
 * A fixed-window counter in Redis, shared by every gateway replica, that costs a Redis round trip per lease
 * instead of per request. A replica takes a lease of hits from the shared budget atomically (a quarter of what
 * is left, at most 16) and spends it locally; a client that stays below its limit costs one round trip per 16
 * requests instead of 16. Every hit a replica lets through was taken in Redis first, so all replicas together
 * never let more than the limit through. The price: a lease one replica has not spent yet is not available to
 * the others, so a client spreading requests over replicas may meet its limit a few hits early; leases shrink as
 * the budget runs out (one hit each for the last few), so that shortfall stays small. The next lease is taken while
 * half of the current one is left while the client is far from its limit (REFILL_AT_SHARE, REFILL_HEADROOM), so a
 * replica holds at most a lease and a half unspent then.
 */
export class LeasedRedisStore implements Store {
  readonly localKeys = false;
  private limit = 0;
  private windowMs = 60_000;
  private readonly leases = new Map<string, Lease>();
  /** One lease request per key at a time: requests arriving meanwhile wait for it instead of taking their own. */
  private readonly leasing = new Map<string, Promise<void>>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: Redis,
    readonly prefix: string,
  ) {}

  init(options: Options): void {
    if (typeof options.limit !== 'number') throw new Error('LeasedRedisStore needs a fixed number as limit');
    this.limit = options.limit;
    this.windowMs = options.windowMs;
    // Leases of ended windows are dropped once a window, so that a client seen once costs memory for one window.
    this.sweeper = setInterval(() => this.sweep(), this.windowMs).unref();
  }

  async increment(key: string): Promise<ClientRateLimitInfo> {
    for (;;) {
      const lease = this.current(key);
      if (lease && lease.unspent > 0) {
        lease.unspent--;
        if (lease.unspent === lease.refillAt && lease.refillAt > 0 && !this.leasing.has(key))
          void this.refill(key, lease);
        return { totalHits: lease.taken - lease.unspent, resetTime: lease.resetTime };
      }
      if (lease && lease.taken >= this.limit) {
        // The budget is spent: refused without asking Redis again until the window ends (counted here only).
        lease.taken++;
        return { totalHits: lease.taken, resetTime: lease.resetTime };
      }
      const pending = this.leasing.get(key);
      if (pending) {
        await pending;
        continue;
      }
      await this.refill(key, lease);
    }
  }

  decrement(key: string): void {
    const lease = this.current(key);
    if (lease) lease.unspent++;
  }

  async resetKey(key: string): Promise<void> {
    this.leases.delete(key);
    await this.redis.del(this.prefix + key);
  }

  shutdown(): void {
    clearInterval(this.sweeper);
  }

  /**
   * Takes the next lease, the one request for it of this key at a time (requests that find no hit in hand wait for
   * it). Asked for ahead of need, nobody awaits it: a failure is left for the request that finds no hit in hand,
   * which asks again and meets it (refused or let through, as its limiter says).
   */
  private refill(key: string, previous: Lease | undefined): Promise<void> {
    const leasing = this.lease(key, previous).finally(() => this.leasing.delete(key));
    this.leasing.set(key, leasing);
    leasing.catch(() => undefined);
    return leasing;
  }

  /**
   * Takes a lease from Redis. A refused one still records how much of the budget is taken, and until when. Hits of
   * the previous lease still in hand when the answer comes (a lease taken ahead of need) stay spendable if the answer
   * is of their window; a lease of a new window starts from what Redis granted alone.
   */
  private async lease(key: string, previous: Lease | undefined): Promise<void> {
    const left = this.limit - (previous?.taken ?? 0);
    const want = Math.max(1, Math.min(LEASE_MAX, Math.floor(left / LEASE_SHARE)));
    const [taken, granted, ttlMs] = (await this.redis.eval(
      LEASE_SCRIPT,
      1,
      this.prefix + key,
      this.limit,
      want,
      this.windowMs,
    )) as [number, number, number];
    const resetTime = new Date(Date.now() + ttlMs);
    const inHand = this.current(key);
    const kept =
      inHand && Math.abs(inHand.resetTime.getTime() - resetTime.getTime()) < this.windowMs / 2 ? inHand.unspent : 0;
    this.leases.delete(key);
    this.leases.set(key, {
      taken,
      unspent: kept + granted,
      resetTime,
      refillAt: this.limit - taken >= REFILL_HEADROOM ? Math.floor(granted / REFILL_AT_SHARE) : 0,
    });
    if (this.leases.size > LEASES_MAX) this.leases.delete(this.leases.keys().next().value!);
  }

  private current(key: string): Lease | undefined {
    const lease = this.leases.get(key);
    if (lease && lease.resetTime.getTime() <= Date.now()) {
      this.leases.delete(key);
      return undefined;
    }
    return lease;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [key, lease] of this.leases) if (lease.resetTime.getTime() <= now) this.leases.delete(key);
  }
}
