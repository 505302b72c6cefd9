import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Database, SqlRunner, TransactionRunner, Tx } from '@orrange/db';
import { runWithContext, type Logger } from '@orrange/logger';
import {
  envelopeSchema,
  eventSchemas,
  queueName,
  type EventEnvelope,
  type EventType,
  type ServiceName,
} from './contracts';
import { claimInboxMany } from './outbox';
import { PermanentFailure } from './permanent-failure';

/**
 * Applies one event inside the transaction that also records it in the inbox: a Tx, or the transaction the consumer
 * was given (`transaction`, e.g. a Prisma client's).
 */
export type EventHandler<T extends EventType, X extends SqlRunner = Tx> = (
  event: EventEnvelope<T>,
  tx: X,
) => Promise<void>;
export type EventHandlers<X extends SqlRunner = Tx> = { [T in EventType]?: EventHandler<T, X> };
/**
 * Applies several events of one type at once, inside the transaction that recorded their inbox rows: for
 * hot paths where one statement for many events beats one per event. Only grouped events (see batchKey)
 * arrive more than one at a time; the handler must decide for each exactly as it would alone.
 */
export type BulkEventHandler<T extends EventType, X extends SqlRunner = Tx> = (
  events: EventEnvelope<T>[],
  tx: X,
) => Promise<void>;
export type BulkEventHandlers<X extends SqlRunner = Tx> = { [T in EventType]?: BulkEventHandler<T, X> };

/**
 * The transaction events are applied in, with their inbox rows: `db.transaction` unless told, which is only right for
 * handlers that take a Tx; handlers that take another client's transaction (a PrismaTx) come with its runner.
 */
export type ConsumerTransaction<X extends SqlRunner> = Tx extends X
  ? { transaction?: TransactionRunner<X> }
  : { transaction: TransactionRunner<X> };

export type ConsumerOptions<X extends SqlRunner = Tx> = ConsumerSettings<X> & ConsumerTransaction<X>;

interface ConsumerSettings<X extends SqlRunner> {
  service: ServiceName;
  db: Database;
  connection: Redis;
  prefix: string;
  logger: Logger;
  handlers: EventHandlers<X>;
  /** Types applied in bulk (they take precedence over `handlers` for their type). */
  bulkHandlers?: BulkEventHandlers<X>;
  registry?: Registry;
  concurrency?: number;
  /** Called after an event was applied and committed (e.g. to kick the outbox relay). */
  onApplied?: () => void;
  /** How long a job may run before it counts as stalled and is handed to another worker. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /**
   * Events with a key (e.g. their market) are applied in groups: the ones of a key that arrive while a
   * group of that key is being applied share the next transaction (one BEGIN/COMMIT, one lock wait,
   * one pool connection), each with its own inbox row, in arrival order. A group that fails fails every
   * event in it; their retries are applied alone, so one bad event never holds the others back twice.
   */
  batchKey?: (event: EventEnvelope) => string | undefined;
  /** The most events one group applies; 32 unless told. */
  batchMax?: number;
}

interface Grouped {
  event: EventEnvelope;
  resolve: (outcome: ApplyOutcome) => void;
  reject: (error: unknown) => void;
}

export type ApplyOutcome = 'applied' | 'duplicate' | 'ignored';

/** A consumer as what runs it and reports on it see it, whatever transactions its handlers take. */
export interface QueueConsumer {
  start(): void;
  /** Applies one envelope (what a job carries). Exposed for tests and for replays by operators. */
  apply(data: unknown, alone?: boolean): Promise<ApplyOutcome>;
  close(): Promise<void>;
  /** Queue depth by state, for /health and /metrics. */
  counts(): Promise<Record<string, number>>;
}

const BATCH_MAX_DEFAULT = 32;

/**
 * The idempotent consumer of a service's event queue. Each event is validated, then applied in one
 * transaction together with its inbox row: a redelivery (a crash after commit, a relay re-publish, a
 * stalled job) finds the row and changes nothing. Malformed events, and events a handler refuses with a
 * PermanentFailure, fail at once and stay in the failed set; other handler errors retry with exponential backoff.
 */
export class EventConsumer<X extends SqlRunner = Tx> implements QueueConsumer {
  private worker: Worker | undefined;
  private readonly queue: Queue;
  private readonly metrics;
  private readonly groups = new Map<string, { pending: Grouped[]; running: boolean }>();
  private readonly transaction: TransactionRunner<X>;

  constructor(private readonly options: ConsumerOptions<X>) {
    this.queue = new Queue(queueName(options.service), { connection: options.connection, prefix: options.prefix });
    this.metrics = options.registry ? createMetrics(options.registry, this.queue) : undefined;
    // Without a runner of its own, X is one a Tx satisfies (ConsumerTransaction), so the Database's transaction fits.
    this.transaction =
      (options as { transaction?: TransactionRunner<X> }).transaction ??
      (options.db.transaction.bind(options.db) as unknown as TransactionRunner<X>);
  }

  start(): void {
    if (this.worker) return;
    this.worker = new Worker(queueName(this.options.service), (job) => this.process(job), {
      connection: this.options.connection,
      prefix: this.options.prefix,
      concurrency: this.options.concurrency ?? 8,
      lockDuration: this.options.lockDurationMs ?? 30_000,
      stalledInterval: this.options.stalledIntervalMs ?? 30_000,
      autorun: true,
    });
    this.worker.on('failed', (job, error) => {
      this.metrics?.failures.inc({ type: job?.name ?? 'unknown' });
      this.options.logger.warn('event failed', {
        eventId: job?.id,
        type: job?.name,
        attempt: job?.attemptsMade,
        error: error.message,
      });
    });
    this.worker.on('error', (error) => this.options.logger.error('event worker error', { error: error.message }));
  }

  /** Applies one envelope (what a job carries). Exposed for tests and for replays by operators. */
  async apply(data: unknown, alone = true): Promise<ApplyOutcome> {
    const event = this.validate(data);
    if (!event) {
      // Recorded all the same: the inbox is how the producer learns the event arrived (see OutboxRedelivery).
      await claimInboxMany(this.options.db, [(data as EventEnvelope).id], this.options.service);
      return 'ignored';
    }
    const key = alone ? undefined : this.options.batchKey?.(event);
    if (key !== undefined) return this.applyGrouped(key, event);
    const [outcome] = await this.applyInOneTransaction([event]);
    return outcome!;
  }

  /** The envelope and payload checked against the contracts; undefined when this service has no handler. */
  private validate(data: unknown): EventEnvelope | undefined {
    const envelope = envelopeSchema.safeParse(data);
    if (!envelope.success) throw new PermanentFailure(`malformed event envelope: ${envelope.error.issues[0]?.message}`);
    const { type } = envelope.data;
    if (!this.options.handlers[type] && !this.options.bulkHandlers?.[type]) return undefined;
    const payload = eventSchemas[type].safeParse(envelope.data.payload);
    if (!payload.success) throw new PermanentFailure(`malformed ${type} payload: ${payload.error.issues[0]?.message}`);
    return { ...envelope.data, payload: payload.data } as EventEnvelope;
  }

  /**
   * The events with their inbox rows, in order, in one transaction: all of them commit or none. The inbox rows
   * are claimed in one statement; consecutive events of a type with a bulk handler are applied in one call.
   */
  private async applyInOneTransaction(events: EventEnvelope[]): Promise<ApplyOutcome[]> {
    const outcomes = await this.transaction(
      async (tx) => {
        const fresh = await claimInboxMany(
          tx,
          events.map((e) => e.id),
          this.options.service,
        );
        // Postgres answers uuids in lower case; an envelope may carry its id in upper case.
        const done: ApplyOutcome[] = events.map((e) => (fresh.delete(e.id.toLowerCase()) ? 'applied' : 'duplicate'));
        const toApply = events.filter((_, i) => done[i] === 'applied');
        for (let i = 0; i < toApply.length; ) {
          const type = toApply[i]!.type;
          const bulk = this.options.bulkHandlers?.[type] as BulkEventHandler<EventType, X> | undefined;
          if (!bulk) {
            await (this.options.handlers[type] as EventHandler<EventType, X>)(toApply[i]!, tx);
            i++;
            continue;
          }
          let end = i;
          while (end < toApply.length && toApply[end]!.type === type) end++;
          await bulk(toApply.slice(i, end), tx);
          i = end;
        }
        return done;
      },
      { retryable: true },
    );
    if (outcomes.includes('applied')) this.options.onApplied?.();
    return outcomes;
  }

  private applyGrouped(key: string, event: EventEnvelope): Promise<ApplyOutcome> {
    const group = this.groups.get(key) ?? { pending: [], running: false };
    this.groups.set(key, group);
    const outcome = new Promise<ApplyOutcome>((resolve, reject) => group.pending.push({ event, resolve, reject }));
    if (!group.running) void this.drainGroup(key, group);
    return outcome;
  }

  private async drainGroup(key: string, group: { pending: Grouped[]; running: boolean }): Promise<void> {
    group.running = true;
    try {
      while (group.pending.length > 0) {
        const batch = group.pending.splice(0, this.options.batchMax ?? BATCH_MAX_DEFAULT);
        try {
          const outcomes = await this.applyInOneTransaction(batch.map((g) => g.event));
          batch.forEach((g, i) => g.resolve(outcomes[i]!));
        } catch (error) {
          for (const g of batch) g.reject(error);
        }
      }
    } finally {
      group.running = false;
      if (group.pending.length === 0) this.groups.delete(key);
    }
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
  }

  /** Queue depth by state, for /health and /metrics. */
  counts(): Promise<Record<string, number>> {
    return this.queue.getJobCounts('waiting', 'active', 'delayed', 'failed');
  }

  private async process(job: Job): Promise<ApplyOutcome> {
    const end = this.metrics?.duration.startTimer({ type: job.name });
    // A retried event is applied alone (see batchKey).
    const outcome = await runWithContext({ jobId: job.id, eventId: job.id }, () =>
      this.apply(job.data, job.attemptsMade > 0),
    ).catch((error: unknown) => {
      // The one place that speaks BullMQ's language for "never retry this".
      throw error instanceof PermanentFailure ? new UnrecoverableError(error.message) : error;
    });
    end?.();
    this.metrics?.consumed.inc({ type: job.name, outcome });
    return outcome;
  }
}

function createMetrics(registry: Registry, queue: Queue) {
  new Gauge({
    name: 'queue_jobs',
    help: "Jobs in this service's event queue by state",
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      const counts = await queue
        .getJobCounts('waiting', 'active', 'delayed', 'failed')
        .catch(() => ({}) as Record<string, number>);
      for (const [state, n] of Object.entries(counts)) this.set({ queue: queue.name, state }, n);
    },
  });
  return {
    consumed: new Counter({
      name: 'events_consumed_total',
      help: 'Events handled, by outcome',
      labelNames: ['type', 'outcome'],
      registers: [registry],
    }),
    failures: new Counter({
      name: 'events_failed_total',
      help: 'Event attempts that failed',
      labelNames: ['type'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'event_handle_duration_seconds',
      help: 'Time to apply an event',
      labelNames: ['type'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2],
      registers: [registry],
    }),
  };
}
