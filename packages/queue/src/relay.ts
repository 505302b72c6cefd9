import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Database } from '@orrange/db';
import type { Logger } from '@orrange/logger';
import { EVENT_ROUTES, queueName, UNROUTED_EVENT_TYPES, type EventType, type ServiceName } from './contracts';

/**
 * Delivery defaults for every event job: retries with exponential backoff, and completed jobs kept for a
 * while so that a re-publish of the same event id is deduplicated by BullMQ (the inbox catches the rest).
 */
export const JOB_DEFAULTS: JobsOptions = {
  attempts: 12,
  backoff: { type: 'exponential', delay: 250 },
  removeOnComplete: { age: 3600, count: 50_000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

export interface RelayOptions {
  db: Database;
  connection: Redis;
  prefix: string;
  logger: Logger;
  registry?: Registry;
  batchSize?: number;
  pollIntervalMs?: number;
  /** How long a kick waits for more events to publish together; 0 claims at once. */
  lingerMs?: number;
  /** Confirmed rows published longer ago than this are deleted (unconfirmed ones stay for the redelivery sweep). */
  retentionMs?: number;
}

/**
 * Sees each batch once it is on the queues (e.g. the live updates a service derives from its events). It must not
 * throw and is not awaited: the relay's pace never depends on it.
 */
export type PublishedListener = (rows: readonly OutboxRow[]) => void;

const BATCH_SIZE_DEFAULT = 200;
const POLL_INTERVAL_MS_DEFAULT = 200;
/** How long a kicked, sleeping relay waits for more events before it claims (see kick). */
const LINGER_MS_DEFAULT = 2;
/**
 * How long a claimed batch belongs to the relay that claimed it. Only a relay that died (or stalled this
 * long) between claiming and marking lets another publish the batch again, which BullMQ and the inboxes absorb.
 */
const CLAIM_MS = 30_000;
const RETENTION_MS_DEFAULT = 24 * 3600 * 1000;
const PRUNE_EVERY_MS = 60_000;

export interface OutboxRow {
  id: string;
  type: EventType;
  payload: unknown;
  occurred_at: Date;
  deliver_at: Date | null;
}

/** One outbox row to hand to some of its consumers' queues. */
export interface Delivery {
  row: OutboxRow;
  services: readonly ServiceName[];
}

/**
 * Moves committed outbox rows to the consumers' BullMQ queues, at least once, each batch in outbox order.
 *
 * A batch is claimed for CLAIM_MS by one statement (FOR UPDATE SKIP LOCKED inside it, so replicas never
 * claim the same rows), published, and marked published by the *next* claim statement, at the next kick or
 * poll: one round trip per batch, where a transaction holding the row locks across the publish took four.
 * So a published row may still read as unpublished for up to one poll interval. A relay that dies after
 * publishing but before marking leaves its batch claimed; once the claim lapses, a relay publishes the same
 * job ids again, which BullMQ ignores and the consumers' inboxes would absorb anyway. A publish that fails
 * gives its claim back at once, so the next attempt need not wait for the claim to lapse.
 */
export class OutboxRelay {
  private readonly queues = new Map<ServiceName, Queue>();
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private kicked = false;
  private lingering: NodeJS.Timeout | undefined;
  private readonly lingerMs: number;
  private lastPruneAt = 0;
  private readonly published: Counter | undefined;
  /** Ids published to BullMQ but not yet marked: the next claim statement marks them. */
  private unmarked: string[] = [];
  private listener: PublishedListener | undefined;

  constructor(private readonly options: RelayOptions) {
    this.batchSize = options.batchSize ?? BATCH_SIZE_DEFAULT;
    this.pollIntervalMs = options.pollIntervalMs ?? POLL_INTERVAL_MS_DEFAULT;
    this.lingerMs = options.lingerMs ?? LINGER_MS_DEFAULT;
    if (options.registry) {
      this.published = new Counter({
        name: 'outbox_published_total',
        help: 'Events moved from the outbox to queues',
        labelNames: ['type'],
        registers: [options.registry],
      });
      const db = options.db;
      new Gauge({
        name: 'outbox_backlog',
        help: 'Outbox rows not yet published',
        registers: [options.registry],
        async collect() {
          const [row] = await db
            .query<{ n: string }>('SELECT count(*)::text AS n FROM outbox WHERE published_at IS NULL')
            .catch(() => [{ n: '-1' }]);
          this.set(Number(row!.n));
        },
      });
    }
  }

  /**
   * Hands every published batch to `listener` from now on. Set after construction, by whoever builds the listener
   * from the service around the relay (it needs the service's database and live publisher, which the relay comes with).
   */
  onPublished(listener: PublishedListener): void {
    this.listener = listener;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /**
   * Publish soon rather than at the next poll; call after committing a transaction that wrote events. A
   * sleeping relay waits `lingerMs` first, so that the events other transactions commit meanwhile go in the
   * same claim and publish (at moderate load each event would otherwise travel alone, at the cost of a claim
   * and a publish each); a busy relay claims again as soon as its batch is out.
   */
  kick(): void {
    this.kicked = true;
    if (this.wake && !this.lingering) this.lingering = setTimeout(() => this.wake?.(), this.lingerMs);
  }

  /** Publishes everything committed so far, once. Returns how many rows it moved. */
  async drain(): Promise<number> {
    let total = 0;
    for (let moved = this.batchSize; moved === this.batchSize; total += moved) moved = await this.publishBatch();
    await this.markPublished();
    return total;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    await this.markPublished().catch((error: unknown) =>
      this.options.logger.warn('outbox relay could not mark its last batch; it will be published again', {
        error: (error as Error).message,
      }),
    );
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }

  private async run(): Promise<void> {
    while (this.running) {
      this.kicked = false;
      let moved = 0;
      try {
        moved = await this.publishBatch();
        await this.pruneOccasionally();
      } catch (error) {
        this.options.logger.warn('outbox relay batch failed; will retry', { error: (error as Error).message });
      }
      if (moved < this.batchSize && !this.kicked && this.running) await this.sleep();
    }
  }

  private sleep(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.pollIntervalMs);
      const self = this;
      function done() {
        clearTimeout(timer);
        clearTimeout(self.lingering);
        self.lingering = undefined;
        self.wake = undefined;
        resolve();
      }
      this.wake = done;
    });
  }

  /** Marks what the last batch published, claims the next batch and publishes it. Returns its size. */
  private async publishBatch(): Promise<number> {
    const marking = this.unmarked;
    // Markings and claims commit without waiting for their WAL flush: one lost in a database crash only
    // means rows published again, which BullMQ (same job ids) and the inboxes absorb. Prepared: the claim runs
    // at every kick and poll, and planning it cost about as much as running it.
    const rows = await this.options.db.queryPrepared<OutboxRow>(
      'outbox-claim',
      `WITH marked AS (
         UPDATE outbox SET published_at = now(), claimed_until = NULL, confirmed_at = CASE WHEN type = ANY($4::text[]) THEN now() END
         WHERE id = ANY($2::uuid[]) AND set_config('synchronous_commit', 'off', true) = 'off'
       ), claimed AS (
         UPDATE outbox SET claimed_until = now() + $3::int * interval '1 millisecond'
         WHERE id IN (
           SELECT id FROM outbox
           WHERE published_at IS NULL AND (claimed_until IS NULL OR claimed_until < now()) AND NOT (id = ANY($2::uuid[]))
             AND set_config('synchronous_commit', 'off', true) = 'off'
           ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING id, seq, type, payload, occurred_at, deliver_at
       )
       SELECT id, type, payload, occurred_at, deliver_at FROM claimed ORDER BY seq`,
      [this.batchSize, marking, CLAIM_MS, UNROUTED_EVENT_TYPES],
    );
    this.unmarked = [];
    if (rows.length === 0) return 0;
    try {
      await this.publish(rows);
    } catch (error) {
      await this.options.db
        .query(`UPDATE outbox SET claimed_until = NULL WHERE id = ANY($1::uuid[])`, [rows.map((r) => r.id)])
        .catch(() => undefined);
      throw error;
    }
    this.unmarked = rows.map((r) => r.id);
    for (const row of rows) this.published?.inc({ type: row.type });
    this.listener?.(rows);
    return rows.length;
  }

  /** Marks the last published batch now instead of with the next claim (draining, stopping). */
  private async markPublished(): Promise<void> {
    if (this.unmarked.length === 0) return;
    await this.options.db.queryPrepared(
      'outbox-mark',
      `UPDATE outbox SET published_at = now(), claimed_until = NULL, confirmed_at = CASE WHEN type = ANY($2::text[]) THEN now() END
       WHERE id = ANY($1::uuid[]) AND set_config('synchronous_commit', 'off', true) = 'off'`,
      [this.unmarked, UNROUTED_EVENT_TYPES],
    );
    this.unmarked = [];
  }

  private publish(rows: OutboxRow[]): Promise<void> {
    return this.publishTo(rows.map((row) => ({ row, services: EVENT_ROUTES[row.type] ?? [] })));
  }

  /**
   * Adds each row as a job (job id = event id) to the given consumers' queues: the relay's publish, and the
   * redelivery sweep's re-publish to the consumers that have not confirmed a row. BullMQ ignores a job id it
   * still holds, so a re-publish of an event waiting in its queue changes nothing.
   */
  async publishTo(deliveries: readonly Delivery[]): Promise<void> {
    const byQueue = new Map<ServiceName, Parameters<Queue['addBulk']>[0]>();
    const now = Date.now();
    for (const { row, services } of deliveries) {
      const envelope = { id: row.id, type: row.type, occurredAt: row.occurred_at.toISOString(), payload: row.payload };
      const delay = row.deliver_at ? Math.max(0, row.deliver_at.getTime() - now) : 0;
      for (const service of services) {
        const jobs = byQueue.get(service) ?? [];
        jobs.push({ name: row.type, data: envelope, opts: { ...JOB_DEFAULTS, jobId: row.id, delay } });
        byQueue.set(service, jobs);
      }
    }
    await Promise.all([...byQueue].map(([service, jobs]) => this.queue(service).addBulk(jobs)));
  }

  private async pruneOccasionally(): Promise<void> {
    if (Date.now() - this.lastPruneAt < PRUNE_EVERY_MS) return;
    this.lastPruneAt = Date.now();
    const retentionMs = this.options.retentionMs ?? RETENTION_MS_DEFAULT;
    // Only rows every consumer confirmed: an unconfirmed one is still owed a re-publish (see OutboxRedelivery).
    await this.options.db.query(
      `DELETE FROM outbox WHERE published_at < now() - ($1::bigint * interval '1 millisecond') AND confirmed_at IS NOT NULL`,
      [retentionMs],
    );
    await this.options.db.query(`DELETE FROM inbox WHERE processed_at < now() - interval '7 days'`);
  }

  private queue(service: ServiceName): Queue {
    let queue = this.queues.get(service);
    if (!queue) {
      queue = new Queue(queueName(service), { connection: this.options.connection, prefix: this.options.prefix });
      // Redis trouble surfaces as a failed publish (and a retry); the queue's own error event only needs a line.
      queue.on('error', (error) =>
        this.options.logger.warn('outbox relay queue error', { queue: service, error: error.message }),
      );
      this.queues.set(service, queue);
    }
    return queue;
  }
}
