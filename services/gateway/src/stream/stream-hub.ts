import type { Redis } from 'ioredis';
import type { Logger } from '@orrange/logger';
import { liveKeys } from '@orrange/runtime/live-events';

/** One entry of the user fan-out, as a subscriber receives it. */
export interface UserEntry {
  id: string;
  type: string;
  /** The event's JSON text, sent as is. */
  data: string;
}

/** A new snapshot of one market's book (`asset:fiatCurrency`), as order-book stored it. */
export interface BookEntry {
  market: string;
  sequence: number;
  data: string;
}

export type UserListener = (entry: UserEntry) => void;
export type BookListener = (entry: BookEntry) => void;

/** How long one XREAD blocks: short enough that closing the hub is quick, long enough to cost nothing idle. */
const BLOCK_MS = 2_000;
/** Entries read per XREAD. */
const READ_COUNT = 500;
/** Waits after a failed read (Redis down) before trying again. */
const RETRY_MS = 1_000;

type XReadReply = Array<[key: string, entries: Array<[id: string, fields: string[]]>]> | null;

/**
 * The gateway process's one reader of the live fan-out streams (users' events and books): a dedicated Redis
 * connection blocks on XREAD over both and hands each entry to this process's subscribers of that user or
 * market. Clients never get a Redis connection of their own, however many streams are open. The reader starts
 * with the first subscriber (then keeps reading, idle or not) from the streams' ends, so entries written before a subscriber arrived are
 * replayed from the user's own stream (see StreamRoutes), not from here.
 */
export class StreamHub {
  private readonly users = new Map<string, Set<UserListener>>();
  private readonly books = new Map<string, Set<BookListener>>();
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly deps: { reader: Redis; prefix: string; logger: Logger }) {}

  /** Listens to one user's events until the returned function is called. */
  subscribeUser(userId: string, listener: UserListener): () => void {
    return this.add(this.users, userId, listener);
  }

  /** Listens to one market's book snapshots until the returned function is called. */
  subscribeBook(market: string, listener: BookListener): () => void {
    return this.add(this.books, market, listener);
  }

  /** Subscribers in this process. */
  get size(): number {
    let count = 0;
    for (const set of this.users.values()) count += set.size;
    for (const set of this.books.values()) count += set.size;
    return count;
  }

  /**
   * Resolves once the reader has its starting positions: from then on every entry written is delivered. A stream
   * opening waits for it, so that nothing written after its replay read can fall between replay and live delivery.
   */
  async ready(): Promise<void> {
    this.start();
    await this.positioned;
  }

  close(): void {
    this.closed = true;
    this.deps.reader.disconnect();
  }

  private positioned: Promise<void> | undefined;

  private add<L>(map: Map<string, Set<L>>, key: string, listener: L): () => void {
    const set = map.get(key) ?? new Set<L>();
    set.add(listener);
    map.set(key, set);
    this.start();
    return () => {
      set.delete(listener);
      if (set.size === 0 && map.get(key) === set) map.delete(key);
    };
  }

  private start(): void {
    if (this.running || this.closed) return;
    let markPositioned!: () => void;
    this.positioned = new Promise<void>((resolve) => (markPositioned = resolve));
    this.running = this.run(markPositioned).finally(() => {
      this.running = undefined;
    });
  }

  private async run(markPositioned: () => void): Promise<void> {
    const keys = [liveKeys.users(this.deps.prefix), liveKeys.books(this.deps.prefix)];
    let ids: string[] | undefined;
    while (!this.closed) {
      try {
        // The streams' current ends, read once: after that the ids of the entries seen, so no entry is skipped between reads.
        ids ??= await Promise.all(
          keys.map(async (key) => (await this.deps.reader.xrevrange(key, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0'),
        );
        markPositioned();
        const reply = (await this.deps.reader.xread(
          'COUNT',
          READ_COUNT,
          'BLOCK',
          BLOCK_MS,
          'STREAMS',
          ...keys,
          ...ids,
        )) as XReadReply;
        for (const [key, entries] of reply ?? []) {
          const index = keys.indexOf(key);
          for (const [id, fields] of entries) {
            ids[index] = id;
            if (index === 0) this.deliverUser(id, fields);
            else this.deliverBook(fields);
          }
        }
      } catch (error) {
        if (this.closed) return;
        this.deps.logger.warn('live stream read failed', { error: (error as Error).message });
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
  }

  private deliverUser(id: string, fields: string[]): void {
    const f = fieldsOf(fields);
    const listeners = f.u === undefined ? undefined : this.users.get(f.u);
    if (!listeners || f.t === undefined || f.d === undefined) return;
    for (const listener of [...listeners]) listener({ id, type: f.t, data: f.d });
  }

  private deliverBook(fields: string[]): void {
    const f = fieldsOf(fields);
    const listeners = f.m === undefined ? undefined : this.books.get(f.m);
    if (!listeners || f.d === undefined) return;
    const entry = { market: f.m!, sequence: Number(f.s), data: f.d };
    for (const listener of [...listeners]) listener(entry);
  }
}

/** A stream entry's flat field list as an object. */
export function fieldsOf(fields: string[]): Record<string, string | undefined> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i]!] = fields[i + 1]!;
  return out;
}
