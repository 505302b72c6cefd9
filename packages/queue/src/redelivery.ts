import { Counter, Gauge, type Registry } from 'prom-client';
import type { Database } from '@orrange/db';
import type { Logger } from '@orrange/logger';
import { EVENT_ROUTES, SERVICE_SCHEMAS, type ServiceName } from './contracts';
import type { Delivery, OutboxRelay, OutboxRow } from './relay';

export interface RedeliveryOptions {
  db: Database;
  /** Publishes the re-deliveries, over the relay's queues. */
  relay: OutboxRelay;
  logger: Logger;
  registry?: Registry;
  /** An event its consumers have not confirmed this long after it was handed to Redis (or came due) is published again. */
  redeliverAfterMs: number;
  /** Rows looked at per claim, of each kind (first checks, re-checks); REDELIVERY_BATCH_MAX unless told. */
  batchSize?: number;
}

/** Rows one sweep claims of each kind: first checks of published rows and re-checks of re-published ones. */
export const REDELIVERY_BATCH_MAX = 250;
/**
 * Consumers prune their inbox after 7 days (OutboxRelay): an event older than this is never published again, since
 * its consumer may have forgotten it applied it. Such an event stays unconfirmed, counted and logged, for an operator.
 */
export const REDELIVER_AGE_MAX_MS = 6 * 24 * 3_600_000;
/** Re-checks of a still-unconfirmed event back off up to this many bounds apart. */
const RECHECK_MAX_BOUNDS = 10;
/** The most the backlog count reads of each kind: /health wants "above a threshold", not an exact census. */
const BACKLOG_COUNT_MAX = 10_000;

/** How often the sweep runs for a bound: a sixth of it, between 50 ms and 5 s (30 s → 5 s). */
export function redeliverySweepIntervalMs(redeliverAfterMs: number): number {
  return Math.min(5_000, Math.max(50, Math.round(redeliverAfterMs / 6)));
}

interface ClaimedRow extends OutboxRow {
  redeliveries: number;
}

type Outcome = 'confirmed' | 'republished' | 'unsent' | 'too-old';

/**
 * Delivery is confirmed by the consumer, not by the hand-over to Redis. A Redis that restarts empty, is flushed or
 * fails over to a replica that lagged loses jobs the relay already marked published; this sweep finds them.
 *
 * Once a published row is older than the bound (counted from when it could first be consumed: its publication, or
 * its deliver_at), one sweep claims it and asks each of its consumers, through the consumer's own
 * `<schema>.inbox_confirmed(uuid[])` (one round trip per consumer per sweep), whether its inbox holds the event.
 * Confirmed by all: `confirmed_at` is set and the row is done. Otherwise it is published again to the consumers that
 * did not confirm it (same job id: BullMQ ignores a job it still holds, the inbox absorbs a second delivery) and
 * re-checked a sweep interval later, then at doubling intervals up to RECHECK_MAX_BOUNDS bounds apart.
 *
 * Nothing runs per event at publish time: rows are looked at in bounded batches, most of them once, a bound after
 * they were published. Replicas sweep safely together: a claim moves `recheck_at` ahead, FOR UPDATE SKIP LOCKED.
 */
export class OutboxRedelivery {
  private readonly batchSize: number;
  private readonly intervalMs: number;
  private readonly metrics;

  constructor(private readonly options: RedeliveryOptions) {
    this.batchSize = options.batchSize ?? REDELIVERY_BATCH_MAX;
    this.intervalMs = redeliverySweepIntervalMs(options.redeliverAfterMs);
    this.metrics = options.registry ? createMetrics(options.registry, this) : undefined;
  }

  /** How often a sweeper should call sweep(). */
  get sweepIntervalMs(): number {
    return this.intervalMs;
  }

  /** One bounded sweep: claims due rows, asks their consumers, confirms or re-publishes each. Returns how many it looked at. */
  async sweep(): Promise<number> {
    const rows = await this.claim();
    if (rows.length === 0) return 0;
    const confirmedBy = await this.askConsumers(rows);
    const confirmed: ClaimedRow[] = [];
    const owed: Array<Delivery & { row: ClaimedRow }> = [];
    for (const row of rows) {
      const services = (EVENT_ROUTES[row.type] ?? []).filter((service) => !confirmedBy.get(service)?.has(row.id));
      if (services.length === 0) confirmed.push(row);
      else owed.push({ row, services });
    }
    const oldestSendable = Date.now() - REDELIVER_AGE_MAX_MS;
    const tooOld = owed.filter((d) => d.row.occurred_at.getTime() < oldestSendable);
    const toSend = owed.filter((d) => d.row.occurred_at.getTime() >= oldestSendable);
    const sent = await this.republish(toSend);
    for (const d of tooOld)
      this.options.logger.error('event never confirmed and too old to publish again; an operator must look', {
        eventId: d.row.id,
        type: d.row.type,
        consumers: d.services,
      });
    await this.record([
      ...confirmed.map((row) => ({ row, outcome: 'confirmed' as const })),
      ...toSend.map((d) => ({ row: d.row, outcome: sent ? ('republished' as const) : ('unsent' as const) })),
      ...tooOld.map((d) => ({ row: d.row, outcome: 'too-old' as const })),
    ]);
    return rows.length;
  }

  /**
   * Events past the bound that their consumers have not confirmed: re-published ones still unconfirmed, and ones
   * the sweep has not reached a whole bound after they came due (a sweep that falls behind). Each kind counted up
   * to BACKLOG_COUNT_MAX.
   */
  async unconfirmedBacklog(): Promise<number> {
    const [row] = await this.options.db.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM (SELECT 1 FROM outbox WHERE confirmed_at IS NULL AND recheck_at IS NOT NULL AND redeliveries > 0 LIMIT $2) a)::int
            + (SELECT count(*) FROM (SELECT 1 FROM outbox WHERE confirmed_at IS NULL AND recheck_at IS NULL AND published_at IS NOT NULL
                                       AND greatest(published_at, deliver_at) < now() - 2 * $1::bigint * interval '1 millisecond' LIMIT $2) b)::int AS n`,
      [this.options.redeliverAfterMs, BACKLOG_COUNT_MAX],
    );
    return row?.n ?? 0;
  }

  /**
   * Claims, in one statement, the published rows due for a first check (older than the bound) and the re-published
   * rows due for a re-check, each kind oldest first and at most a batch; `recheck_at` moves a bound ahead, so a
   * sweeper that dies mid-way leaves its rows to another one a bound later.
   */
  private claim(): Promise<ClaimedRow[]> {
    return this.options.db.query<ClaimedRow>(
      `WITH fresh AS (
         SELECT id FROM outbox
         WHERE confirmed_at IS NULL AND recheck_at IS NULL AND published_at IS NOT NULL
           AND greatest(published_at, deliver_at) < now() - $2::bigint * interval '1 millisecond'
         ORDER BY greatest(published_at, deliver_at) LIMIT $1 FOR UPDATE SKIP LOCKED
       ), again AS (
         SELECT id FROM outbox
         WHERE confirmed_at IS NULL AND recheck_at IS NOT NULL AND recheck_at <= now()
         ORDER BY recheck_at LIMIT $1 FOR UPDATE SKIP LOCKED
       )
       UPDATE outbox SET recheck_at = now() + $2::bigint * interval '1 millisecond'
       WHERE id IN (SELECT id FROM fresh UNION ALL SELECT id FROM again)
       RETURNING id::text, type, payload, occurred_at, deliver_at, redeliveries`,
      [this.batchSize, this.options.redeliverAfterMs],
    );
  }

  /**
   * Which of the rows each consumer has recorded, one call of its inbox_confirmed per consumer, all at once. A
   * consumer that cannot answer (its schema not migrated yet, an error) confirms nothing: its events are published
   * again, which is always safe.
   */
  private async askConsumers(rows: readonly ClaimedRow[]): Promise<Map<ServiceName, Set<string>>> {
    const idsByService = new Map<ServiceName, string[]>();
    for (const row of rows) {
      for (const service of EVENT_ROUTES[row.type] ?? []) {
        const ids = idsByService.get(service) ?? [];
        ids.push(row.id);
        idsByService.set(service, ids);
      }
    }
    const answers = await Promise.all(
      [...idsByService].map(async ([service, ids]) => {
        const confirmed = await this.options.db
          .query<{ id: string }>(
            `SELECT id::text FROM "${SERVICE_SCHEMAS[service]}".inbox_confirmed($1::uuid[]) AS id`,
            [ids],
          )
          .catch((error: unknown) => {
            this.options.logger.warn('a consumer could not confirm deliveries; its events are published again', {
              consumer: service,
              error: error instanceof Error ? error.message : String(error),
            });
            return [];
          });
        return [service, new Set(confirmed.map((r) => r.id))] as const;
      }),
    );
    return new Map(answers);
  }

  /** Publishes the owed deliveries; false when Redis refused them (they are re-checked at the next interval). */
  private async republish(deliveries: ReadonlyArray<Delivery & { row: ClaimedRow }>): Promise<boolean> {
    if (deliveries.length === 0) return true;
    try {
      await this.options.relay.publishTo(deliveries);
    } catch (error) {
      this.options.logger.warn('events could not be published again; will retry', {
        events: deliveries.length,
        error: error instanceof Error ? error.message : String(error),
      });
      return false;
    }
    for (const d of deliveries)
      for (const consumer of d.services) this.metrics?.republished.inc({ type: d.row.type, consumer });
    this.options.logger.warn('events not confirmed by their consumers within the bound were published again', {
      events: deliveries.length,
      types: [...new Set(deliveries.map((d) => d.row.type))],
      redeliverAfterMs: this.options.redeliverAfterMs,
    });
    return true;
  }

  /** The outcome of each claimed row, in one statement. */
  private async record(results: ReadonlyArray<{ row: ClaimedRow; outcome: Outcome }>): Promise<void> {
    await this.options.db.query(
      `UPDATE outbox o SET
         confirmed_at = CASE WHEN r.outcome = 'confirmed' THEN now() END,
         recheck_at = CASE WHEN r.outcome = 'confirmed' THEN NULL ELSE now() + r.delay_ms * interval '1 millisecond' END,
         redeliveries = o.redeliveries + (r.outcome = 'republished')::int
       FROM unnest($1::uuid[], $2::text[], $3::bigint[]) AS r(id, outcome, delay_ms)
       WHERE o.id = r.id`,
      [
        results.map((r) => r.row.id),
        results.map((r) => r.outcome),
        results.map((r) => this.recheckDelayMs(r.row, r.outcome)),
      ],
    );
  }

  /** A sweep interval after the first re-publish, doubling with each one after it, at most RECHECK_MAX_BOUNDS bounds. */
  private recheckDelayMs(row: ClaimedRow, outcome: Outcome): number {
    const maxMs = RECHECK_MAX_BOUNDS * this.options.redeliverAfterMs;
    if (outcome === 'too-old') return maxMs;
    if (outcome !== 'republished') return this.intervalMs;
    return Math.min(maxMs, this.intervalMs * 2 ** Math.min(row.redeliveries, 20));
  }
}

function createMetrics(registry: Registry, redelivery: OutboxRedelivery) {
  new Gauge({
    name: 'outbox_unconfirmed',
    help: 'Events past the redelivery bound that their consumers have not confirmed',
    registers: [registry],
    async collect() {
      this.set(await redelivery.unconfirmedBacklog().catch(() => -1));
    },
  });
  return {
    republished: new Counter({
      name: 'events_republished_total',
      help: 'Events published again because a consumer had not confirmed them within the bound',
      labelNames: ['type', 'consumer'],
      registers: [registry],
    }),
  };
}
