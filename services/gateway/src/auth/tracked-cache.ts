import assert from 'node:assert/strict';
import type { Redis, RedisOptions } from 'ioredis';
import type { Logger } from '@orrange/logger';
import type { GatewayMetrics } from '../observability/metrics';

/** What a lookup needs: a plain ioredis connection is one (no cache), a TrackedCache is one too. */
export interface KeyReader {
  get(key: string): Promise<string | null>;
}

/** Values kept in-process; beyond this the oldest entry is dropped (Redis keeps tracking it, harmlessly). */
const TRACKED_ENTRIES_MAX = 100_000;
/** The channel Redis publishes invalidations on when tracking is redirected to a RESP2 subscriber. */
const INVALIDATE_CHANNEL = '__redis__:invalidate';

/**
 * Both tracking connections speak RESP2. ioredis 6 defaults to RESP3, where Redis sends invalidations as
 * `invalidate` push frames that ioredis drops; on RESP2 redirected invalidations arrive as Pub/Sub messages.
 */
export const TRACKED_READS_OPTIONS: RedisOptions = { protocol: 2 };
/**
 * The subscriber is set up by hand after every (re)connect: CLIENT ID first (refused once subscribed), then
 * SUBSCRIBE. Nothing is replayed from the previous connection, which would subscribe before CLIENT ID.
 */
export const INVALIDATIONS_OPTIONS: RedisOptions = {
  protocol: 2,
  autoResubscribe: false,
  autoResendUnfulfilledCommands: false,
};

/** Lets one waiting hit go on: true when it may answer from memory. */
type Release = (caughtUp: boolean) => void;

export interface TrackedCacheDeps {
  /** Dedicated to tracked GETs: Redis remembers every key read on it. */
  reads: Redis;
  /** Dedicated subscriber that receives the invalidations of `reads`. */
  invalidations: Redis;
  /** Answers every lookup while tracking is not established (the gateway's main connection). */
  fallback: KeyReader;
  metrics: GatewayMetrics;
  logger: Logger;
  entriesMax?: number;
  /**
   * How long after an answered PING was sent lookups are answered without a PING of their own (at most
   * REVOCATION_LEASE_MS_MAX, which the user service outwaits after every revocation). 0 or absent: every hit waits
   * for a PING sent after its lookup began.
   */
  leaseMs?: number;
}

/**
 * An in-process copy of Redis keys that Redis itself keeps correct (server-assisted client-side caching,
 * CLIENT TRACKING, Redis ≥ 6). Why: on the gateway's machines each message between processes costs ~100 µs
 * of CPU on each side, and the token's revocation GETs were one of two Redis round trips per authenticated
 * request. A hit now costs no GET: the hits waiting at one time share one PING.
 *
 * - `reads` runs CLIENT TRACKING ON REDIRECT <`invalidations`' client id>: when a key read on it changes
 *   (written, deleted, expired, evicted), Redis publishes the key on `__redis__:invalidate`, or null when a
 *   database is flushed; the entry is dropped (everything, for null).
 * - A hit is answered only once a PING sent on `invalidations` no earlier than `leaseMs` before the lookup began
 *   has come back (with no lease: after the lookup began). Redis sends the invalidation of a write after its reply
 *   to the writer (measured: ~0.1 ms later, sometimes ms), so without this a request sent right after a revocation
 *   could still pass. The pong comes after every invalidation Redis sent before it (one stream, in order), and the
 *   user service answers a revocation only REVOCATION_SETTLE_MS after writing it, longer than any lease: a PING
 *   sent within the lease of a request that came after that answer was sent after the write, so its pong vouches
 *   for the revocation. One PING is in flight at a time and serves every hit that waited for it; while hits come,
 *   one is sent once half the lease has passed, so that under load the hits wait for none (~2 PINGs per lease
 *   instead of one per request).
 * - A GET in flight while its key changes: a marker is set before the GET and dropped by an invalidation of
 *   the key; the reply is kept only if its marker survived.
 * - Nothing is answered from memory unless tracking is established on the current connections. Losing either
 *   connection (socket end, close, error) empties the cache: Redis tells no one when a tracked connection
 *   dies, and a reconnected subscriber has a new id, so tracking is set up again from scratch.
 *
 * While tracking is not established every lookup is a plain GET on `fallback`, as before this cache existed.
 */
export class TrackedCache implements KeyReader {
  /** key → value, or null when the key does not exist. */
  private readonly entries = new Map<string, string | null>();
  /** key → marker of the latest GET in flight; an invalidation deletes it. */
  private readonly pending = new Map<string, object>();
  private readonly entriesMax: number;
  /** Hits waiting for the next PING, and the hits whose PING is in flight. */
  private waiting: Release[] = [];
  private inFlight: Release[] | undefined;
  private pingScheduled = false;
  /** When the latest PING answered under the current tracking was sent (performance.now()); -Infinity: none. */
  private leaseFrom = Number.NEGATIVE_INFINITY;
  private readonly leaseMs: number;
  private readonly counted: Record<'hit' | 'miss' | 'untracked', { inc(): void }>;
  private tracking = false;
  /** Bumped whenever tracking is lost: a setup begun before then must not switch it on. */
  private generation = 0;
  /** Bumped whenever the subscriber's connection is lost: its id and pongs belong to that connection. */
  private subscriberEpoch = 0;
  /** The subscriber's CLIENT ID, once it is subscribed on its current connection. */
  private redirectId: number | undefined;
  private closed = false;

  constructor(private readonly deps: TrackedCacheDeps) {
    this.entriesMax = deps.entriesMax ?? TRACKED_ENTRIES_MAX;
    this.leaseMs = deps.leaseMs ?? 0;
    this.counted = {
      hit: deps.metrics.trackedLookups.labels({ result: 'hit' }),
      miss: deps.metrics.trackedLookups.labels({ result: 'miss' }),
      untracked: deps.metrics.trackedLookups.labels({ result: 'untracked' }),
    };
    deps.metrics.trackedActive.set(0);
    const { reads, invalidations } = deps;
    onConnectionLost(reads, () => this.lose());
    onConnectionLost(invalidations, () => {
      this.subscriberEpoch++;
      this.redirectId = undefined;
      this.lose();
    });
    // Errors come with or before a lost connection; should the connection survive one, tracking is set up again.
    for (const connection of [reads, invalidations]) {
      connection.on('error', () => {
        this.lose();
        void this.establish();
      });
    }
    reads.on('ready', () => void this.establish());
    invalidations.on('ready', () => void this.subscribe());
    invalidations.on('messageBuffer', (channel: Buffer, message: unknown) => this.invalidate(channel, message));
    if (invalidations.status === 'ready') void this.subscribe();
  }

  async get(key: string): Promise<string | null> {
    if (this.tracking && this.entries.has(key) && (this.leased() || (await this.caughtUp())) && this.entries.has(key)) {
      this.counted.hit.inc();
      return this.entries.get(key)!;
    }
    if (!this.tracking) {
      this.counted.untracked.inc();
      return this.deps.fallback.get(key);
    }
    this.counted.miss.inc();
    return this.fetch(key);
  }

  /** For logs and tests: whether memory answers, and the subscriber's id that tracking redirects to. */
  get state(): { tracking: boolean; redirectId: number | undefined; entries: number } {
    return { tracking: this.tracking, redirectId: this.redirectId, entries: this.entries.size };
  }

  /** Stops answering from memory; the connections are closed by their owner. */
  close(): void {
    this.closed = true;
    this.lose();
  }

  /**
   * True when an answered PING was sent within the lease: every invalidation Redis sent before a revocation's
   * settle time ended has been applied. Past half the lease, the next PING is sent: caughtUp's, which no hit waits
   * for (its answer extends the lease).
   */
  private leased(): boolean {
    const age = performance.now() - this.leaseFrom;
    if (age > this.leaseMs) return false;
    if (age > this.leaseMs / 2 && !this.inFlight && !this.pingScheduled) void this.caughtUp();
    return true;
  }

  /**
   * True once every invalidation Redis sent before this call has been applied (a PING sent after it came
   * back on the subscriber), false when tracking was lost meanwhile or the PING failed.
   */
  private caughtUp(): Promise<boolean> {
    return new Promise<boolean>((release) => {
      this.waiting.push(release);
      this.schedulePing();
    });
  }

  /** The next PING leaves at the end of this turn of the event loop, so the hits of one turn share it. */
  private schedulePing(): void {
    if (this.inFlight || this.pingScheduled) return;
    this.pingScheduled = true;
    setImmediate(() => {
      this.pingScheduled = false;
      this.ping();
    });
  }

  private ping(): void {
    if (this.inFlight || this.waiting.length === 0) return;
    const batch = this.waiting;
    this.waiting = [];
    this.inFlight = batch;
    const epoch = this.subscriberEpoch;
    // The lease counts only for a PING sent and answered under one tracking (any loss between bumps the generation).
    const trackedAt = this.tracking ? this.generation : undefined;
    const sentAt = performance.now();
    const { invalidations } = this.deps;
    this.deps.metrics.trackedPings.inc();
    invalidations.ping().then(
      // After the I/O already waiting in this turn: a tracked-reads connection that Redis closed before it
      // answered this PING (its FIN came first) is noticed before any hit is answered or the lease extended.
      () =>
        setImmediate(() => {
          if (trackedAt === this.generation && this.tracking) this.leaseFrom = Math.max(this.leaseFrom, sentAt);
          this.settle(batch, true);
        }),
      (error: Error) => {
        this.settle(batch, false);
        if (epoch !== this.subscriberEpoch || this.closed) return;
        this.deps.logger.warn('redis tracking: the invalidation subscriber did not answer a PING; reconnecting it', {
          error: error.message,
        });
        invalidations.disconnect(true);
      },
    );
  }

  private settle(batch: Release[], caughtUp: boolean): void {
    if (this.inFlight !== batch) return; // already released when tracking was lost
    this.inFlight = undefined;
    for (const release of batch) release(caughtUp && this.tracking);
    // The hits that came while this PING was out go on the next one, sent now (the end of a turn already).
    this.ping();
  }

  private async fetch(key: string): Promise<string | null> {
    const marker = {};
    this.pending.set(key, marker);
    let survived = false;
    let value: string | null;
    try {
      value = await this.deps.reads.get(key);
    } finally {
      survived = this.pending.get(key) === marker;
      if (survived) this.pending.delete(key);
    }
    if (survived) {
      // Losing tracking empties `pending`, so a surviving marker was set and answered under the same tracking.
      assert.ok(this.tracking, 'a GET marker survived a loss of tracking');
      this.remember(key, value);
    }
    return value;
  }

  private remember(key: string, value: string | null): void {
    if (!this.entries.has(key) && this.entries.size >= this.entriesMax)
      this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, value);
  }

  private invalidate(channel: Buffer, message: unknown): void {
    if (channel.toString() !== INVALIDATE_CHANNEL) return;
    if (!Array.isArray(message)) {
      // null: FLUSHALL or FLUSHDB (of any database).
      this.forget();
      this.deps.metrics.trackedClears.inc({ reason: 'flush' });
      return;
    }
    for (const key of message) {
      const name = String(key);
      this.entries.delete(name);
      this.pending.delete(name);
    }
  }

  private forget(): void {
    this.entries.clear();
    this.pending.clear();
  }

  private lose(): void {
    this.generation++;
    this.leaseFrom = Number.NEGATIVE_INFINITY;
    this.forget();
    const released = [...(this.inFlight ?? []), ...this.waiting];
    this.inFlight = undefined;
    this.waiting = [];
    for (const release of released) release(false);
    if (!this.tracking) return;
    this.tracking = false;
    this.deps.metrics.trackedActive.set(0);
    this.deps.metrics.trackedClears.inc({ reason: 'connection' });
    if (!this.closed)
      this.deps.logger.warn('redis tracking lost: revocation lookups go to Redis until it is set up again');
  }

  /** After every (re)connect of the subscriber: its id, then the subscription, then tracking on `reads`. */
  private async subscribe(): Promise<void> {
    const epoch = this.subscriberEpoch;
    const { invalidations } = this.deps;
    try {
      const id = Number(await invalidations.client('ID'));
      await invalidations.subscribe(INVALIDATE_CHANNEL);
      if (epoch !== this.subscriberEpoch) return;
      this.redirectId = id;
    } catch (error) {
      if (epoch !== this.subscriberEpoch || this.closed) return;
      this.deps.logger.warn('redis tracking: the invalidation subscriber could not subscribe; reconnecting it', {
        error: (error as Error).message,
      });
      invalidations.disconnect(true);
      return;
    }
    await this.establish();
  }

  private async establish(): Promise<void> {
    const { reads } = this.deps;
    const redirectId = this.redirectId;
    if (this.tracking || this.closed || redirectId === undefined || reads.status !== 'ready') return;
    const generation = this.generation;
    try {
      await reads.client('TRACKING', 'ON', 'REDIRECT', String(redirectId));
    } catch (error) {
      if (generation === this.generation)
        this.deps.logger.warn('redis tracking could not be switched on; every revocation lookup goes to Redis', {
          error: (error as Error).message,
        });
      return;
    }
    if (generation !== this.generation || redirectId !== this.redirectId || this.tracking || this.closed) return;
    this.tracking = true;
    this.deps.metrics.trackedActive.set(1);
    this.deps.logger.info('redis tracking on: repeated revocation lookups are answered in-process', { redirectId });
  }
}

/**
 * Calls `lost` as soon as the connection is known to be gone. The socket's 'end' comes first (before ioredis's
 * 'close', which waits for our side to shut down too, and before a CLIENT KILL's reply reaches whoever sent it).
 */
function onConnectionLost(connection: Redis, lost: () => void): void {
  connection.on('connect', () => connection.stream.once('end', lost));
  for (const event of ['close', 'reconnecting', 'end']) connection.on(event, lost);
}
