import type { Redis } from 'ioredis';

/**
 * Live updates (API.md, "Live updates"): what the services write to Redis and the gateway streams to clients
 * as Server-Sent Events. Two kinds of stream per prefix:
 *
 * - `<prefix>:live:users`, the fan-out: every user event, with its user id, kept short (LIVE_FANOUT_MAXLEN).
 *   Each gateway process reads it with one blocking XREAD and hands each entry to its local subscribers.
 * - `<prefix>:live:user:<userId>`, the replay: the same events of one user under the same ids, kept for
 *   LIVE_RETENTION_MS (MINID trimming, and at most LIVE_USER_MAXLEN entries), so that a client resuming with `Last-Event-ID` gets what it missed.
 * - `<prefix>:live:books`, the public books' fan-out: every new snapshot of a market's book (order-book writes it
 *   when it stores a newer one), read by the same XREAD.
 *
 * Events are written after the commit of the change they describe, from data the writer already holds. A crash
 * between commit and write loses the event: clients are told to re-read over REST on `resync` (see the README).
 */
export type LiveEventType = 'order.updated' | 'trade.updated' | 'trade.message' | 'balance.updated';

export interface LiveEvent {
  userId: string;
  type: LiveEventType;
  /** The JSON the REST API answers for the same object (never payment details). */
  data: unknown;
}

/** How long a user's events stay resumable: API.md promises 5 minutes; twice that leaves room for clocks and trimming. */
export const LIVE_RETENTION_MS = 10 * 60_000;
/**
 * Events one user's replay stream keeps at most (about), whatever their age: a bot placing orders all day would
 * otherwise hold ten minutes of them in Redis. A client further behind than this is told to resync (the gateway
 * sees the trimmed ids: XINFO's max-deleted-entry-id).
 */
export const LIVE_USER_MAXLEN = 1_000;
/** Entries the fan-out stream keeps (about): gateways read its tail within milliseconds, this is slack for a slow one. */
export const LIVE_FANOUT_MAXLEN = 20_000;
/** Entries the books' fan-out keeps (about). */
export const LIVE_BOOKS_MAXLEN = 2_000;

export const liveKeys = {
  users: (prefix: string) => `${prefix}:live:users`,
  user: (prefix: string, userId: string) => `${prefix}:live:user:${userId}`,
  books: (prefix: string) => `${prefix}:live:books`,
};

/**
 * One user event: added to the fan-out (its id made there), then to the user's replay stream under the same id,
 * trimmed to the retention by MINID, and the key expires when the user is quiet for as long. Ids of the fan-out
 * only grow, so every user's stream receives growing ids too.
 */
const PUBLISH_USER_EVENT = `
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[5], '*', 'u', ARGV[1], 't', ARGV[2], 'd', ARGV[3])
redis.call('XADD', KEYS[2], 'MINID', '~', tostring(ms - tonumber(ARGV[4])), id, 't', ARGV[2], 'd', ARGV[3])
redis.call('XTRIM', KEYS[2], 'MAXLEN', '~', ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return id`;

type LiveRedis = Redis & { publishLiveEvent?: (...args: Array<string | number>) => Promise<string> };

/**
 * Writes user events, one script call each, in one pipeline (one round trip whatever the number). Never throws:
 * a live update is a convenience on top of REST, so a Redis failure is reported to `onError` and the use case that
 * already committed still answers.
 */
export async function publishLiveEvents(
  redis: Redis,
  prefix: string,
  events: readonly LiveEvent[],
  onError?: (error: Error) => void,
): Promise<void> {
  if (events.length === 0) return;
  const client = redis as LiveRedis;
  if (!client.publishLiveEvent) client.defineCommand('publishLiveEvent', { numberOfKeys: 2, lua: PUBLISH_USER_EVENT });
  try {
    const pipeline = client.pipeline() as unknown as {
      publishLiveEvent(...args: Array<string | number>): void;
      exec(): Promise<Array<[Error | null, unknown]> | null>;
    };
    for (const event of events) {
      pipeline.publishLiveEvent(
        liveKeys.users(prefix),
        liveKeys.user(prefix, event.userId),
        event.userId,
        event.type,
        JSON.stringify(event.data),
        LIVE_RETENTION_MS,
        LIVE_FANOUT_MAXLEN,
        LIVE_USER_MAXLEN,
      );
    }
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([error]) => error);
    if (failed?.[0]) onError?.(failed[0]);
  } catch (error) {
    onError?.(error as Error);
  }
}

/**
 * How long a process gathers live updates before writing them. Each write wakes Redis, and Redis wakes every gateway
 * process reading the fan-out: on these machines a wake-up costs ~100 µs of CPU on each side, and at a few hundred
 * orders a second nearly every order finished in a turn of its own, so a write per turn was a write per order. A
 * few milliseconds more on an update streamed to a browser is nothing; several writes in one is a fraction of the CPU.
 */
export const LIVE_FLUSH_WINDOW_MS = 10;

/**
 * A process's writer of live updates: events queued within LIVE_FLUSH_WINDOW_MS of the first are written together,
 * one pipeline for all of them (one round trip, not one per order). `publish` never waits and never throws: the use
 * cases call it after their commit and answer at once. `close` writes what is still queued.
 */
export class LivePublisher {
  private queued: LiveEvent[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: { redis: Redis; prefix: string; onError?: (error: Error) => void; windowMs?: number },
  ) {}

  publish(events: readonly LiveEvent[]): void {
    if (events.length === 0) return;
    this.queued.push(...events);
    this.timer ??= setTimeout(() => void this.flush(), this.deps.windowMs ?? LIVE_FLUSH_WINDOW_MS);
  }

  /** Writes what is queued now (the window's end does it by itself). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    return publishLiveEvents(this.deps.redis, this.deps.prefix, this.queued.splice(0), this.deps.onError);
  }
}

/** The same event for each of `userIds` (a trade's parties), once per distinct user. */
export function toEach(userIds: readonly string[], type: LiveEventType, data: unknown): LiveEvent[] {
  return [...new Set(userIds)].map((userId) => ({ userId, type, data }));
}
