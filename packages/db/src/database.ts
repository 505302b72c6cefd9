import pg from 'pg';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Logger } from '@orrange/logger';
import { queryPipelined, type Statement } from './pipeline';
import { HealthMonitor, type ComponentStatus, type PingResult } from './health-monitor';
import { writableHostClient } from './failover';
import { hostsOf } from '@orrange/config';
import { poolConfigFromUrl, type PoolSettings } from './pool-config';
import { DEFAULT_RETRY, isConnectionError, isTransactionConflict, retry, type RetryOptions } from './retry';

export interface DatabaseOptions extends PoolSettings {
  /** The primary; several hosts (`h1:5432,h2:5433`) mean "whichever of them accepts writes" (see failover.ts). */
  url: string;
  /** Streaming replicas, for the reads that tolerate lag (`replicaReader`). */
  replicaUrls?: string[];
  /** A replica further behind than this serves no read while the primary answers (default 1000). */
  replicaLagMaxMs?: number;
  /** How often each replica's lag is measured (default 1000; 0: only by checkNow). */
  replicaCheckIntervalMs?: number;
  /** Label for logs and metrics, usually the service name. */
  name: string;
  slowQueryMs?: number;
  healthIntervalMs?: number;
  logger?: Logger;
  registry?: Registry;
  retry?: Partial<Omit<RetryOptions, 'shouldRetry'>>;
}

export interface TransactionOptions {
  /** Re-run the whole transaction on 40001/40P01. Only for work that may safely run again from the start. */
  retryable?: boolean;
  isolation?: 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE';
}

export type Row = Record<string, unknown>;

/**
 * Settings that last one transaction (`set_config(name, value, true)`), such as the acting user that row-level
 * security policies read: made in the transaction itself, they never outlive it on a pooled connection.
 */
export type Settings = Readonly<Record<string, string>>;

/** The statements that make `settings` for the rest of the transaction. */
function settingStatements(settings: Settings | undefined): Statement[] {
  return Object.entries(settings ?? {}).map(([name, value]) => ({
    sql: 'SELECT set_config($1, $2, true)',
    params: [name, value],
  }));
}

/**
 * Runs `body` in one transaction: Database.transaction (a Tx), or a PrismaDatabase's (a PrismaTx) over the same
 * primary pool, for shared code that writes in the caller's transaction whichever client the service uses.
 */
export type TransactionRunner<X extends SqlRunner> = <T>(
  body: (tx: X) => Promise<T>,
  options?: TransactionOptions,
) => Promise<T>;

/** What one attempt of a transaction tells the retry loop around it (see Database.retryingTransaction). */
export interface TransactionAttempt {
  /** Called just before COMMIT is sent: a connection lost from then on leaves the outcome unknown, never retried. */
  committing(): void;
  /** Runs `effect` once this attempt committed (Tx.afterCommit); dropped with an attempt that rolled back. */
  afterCommit(effect: () => void): void;
}

/**
 * Anything that runs SQL, the one type for it: the Database (each statement on a pooled connection), a transaction's
 * Tx, or an adapter over another client's transaction (Prisma's, say). Code that can use a Tx's round-trip savings
 * asks whether they are there (see packages/queue's queryTogether and deferred outbox writes).
 */
export interface SqlRunner {
  query<R = Row>(sql: string, params?: unknown[]): Promise<R[]>;
  /** Statements sent together in one round trip, each run after the one before it, on its own snapshot (a Tx can). */
  queries?<R = Row>(statements: Statement[]): Promise<R[][]>;
  /** A write whose result nobody reads, sent with COMMIT (a Tx can; see Tx.defer). */
  defer?(sql: string, params?: unknown[]): void;
}

/** What a transaction body gets: queries on one connection inside BEGIN … COMMIT. */
export interface Tx extends SqlRunner {
  /**
   * Statements sent together, in one round trip; each still runs after the one before it finished, on its own
   * snapshot (see queryPipelined). Returns each one's rows.
   */
  queries<R = Row>(statements: Statement[]): Promise<R[][]>;
  /**
   * A write whose result the body does not need (an outbox row, say): it goes with COMMIT, in the same round
   * trip, after everything else the body sent, in the order deferred. If it fails, nothing commits and the
   * error reaches the caller as if the body had thrown it. Only for rows nothing later in the transaction
   * reads: they are not there until COMMIT.
   */
  defer(sql: string, params?: unknown[]): void;
  /**
   * A statement whose rows the body needs, but not before its next round trip: it is sent at the head of that
   * round trip (the next `query`, `queries` or `commitWith`, or the COMMIT), so it costs no round trip of its own,
   * and runs before the statements sent with it, which see what it wrote. Its promise settles with that round
   * trip; if the round trip fails, both promises reject and nothing commits. Never await it before the body has
   * sent something after it: it would wait forever.
   */
  sendWithNext<R = Row>(sql: string, params?: unknown[]): Promise<R[]>;
  /**
   * The body's last statement, sent with the deferred writes and COMMIT in one round trip; resolves to its rows
   * once the transaction has committed. A write that must not commit when it finds something wrong has to raise
   * in SQL (the body sees its rows only after the commit). The body sends nothing after it.
   */
  commitWith<R = Row>(sql: string, params?: unknown[]): Promise<R[]>;
  /**
   * Runs `effect` once the transaction has committed (a metric, a notice to others in this process), never for
   * an attempt that rolled back or is retried: the body may run several times, its effects outside the
   * database must happen once. A throwing effect is logged; the transaction stays committed.
   */
  afterCommit(effect: () => void): void;
}

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
  max: number;
}

export interface DatabaseHealth {
  /**
   * ok: the primary answers and every replica is up and within the lag bound; degraded: the primary answers but a
   * replica does not or lags, or the primary is down while a replica still serves the reads that tolerate lag;
   * down: nothing answers.
   */
  status: ComponentStatus;
  primary: PingResult & { pool: PoolStats };
  replicas: Array<PingResult & { pool: PoolStats; fresh: boolean }>;
}

interface Member {
  role: 'primary' | 'replica';
  pool: pg.Pool;
  monitor: HealthMonitor;
}

/**
 * The one way a service reaches Postgres: a pg pool per URL (primary and replicas), health monitoring,
 * retries with backoff for connection failures and retryable transaction conflicts, slow-query logging,
 * pool metrics, and a graceful close. A service's generated Prisma client runs over the same pools with the same
 * rules through PrismaDatabase (prisma-adapter.ts).
 */
export class Database {
  readonly primary: pg.Pool;
  private readonly primaryMonitor: HealthMonitor;
  private readonly members: Member[];
  private readonly replicaMembers: Member[];
  private replicaCursor = 0;
  private readonly replicaLagMaxMs: number;
  private readonly retryDefaults: Omit<RetryOptions, 'shouldRetry'>;
  private readonly slowQueryMs: number;
  private readonly metrics: ReturnType<typeof createMetrics> | undefined;
  private closed = false;

  constructor(private readonly options: DatabaseOptions) {
    this.retryDefaults = { ...DEFAULT_RETRY, ...options.retry };
    this.slowQueryMs = options.slowQueryMs ?? 200;
    this.replicaLagMaxMs = options.replicaLagMaxMs ?? 1_000;
    const settings: PoolSettings = { applicationName: options.name, ...options };
    const member = (role: Member['role'], url: string): Member => {
      const hosts = hostsOf(url);
      const pool = new pg.Pool({
        ...poolConfigFromUrl(url, settings),
        ...(role === 'primary' && hosts.length > 1 ? { Client: writableHostClient(hosts) } : {}),
      });
      // A connection the server drops while idle in the pool emits 'error'; the pool discards it. Without a
      // listener the process would crash.
      pool.on('error', (error) =>
        options.logger?.warn('idle database connection lost', { pool: role, error: error.message }),
      );
      // A connection can also die while checked out; pg then emits 'error' on the client itself, and an
      // unhandled 'error' event would crash the process. The failing query rejects anyway.
      pool.on('connect', (client) => client.on('error', () => undefined));
      const monitor = new HealthMonitor(pool, {
        intervalMs:
          role === 'primary' ? (options.healthIntervalMs ?? 30_000) : (options.replicaCheckIntervalMs ?? 1_000),
        measureLag: role === 'replica',
        onChange: (now, before) =>
          options.logger?.[now.status === 'ok' ? 'info' : 'error']('database health changed', {
            pool: role,
            from: before.status,
            to: now.status,
            error: now.error,
          }),
      });
      return { role, pool, monitor };
    };
    const primary = member('primary', options.url);
    this.primary = primary.pool;
    this.primaryMonitor = primary.monitor;
    this.replicaMembers = (options.replicaUrls ?? []).map((url) => member('replica', url));
    this.members = [primary, ...this.replicaMembers];
    this.metrics = options.registry ? createMetrics(options.registry, options.name, this) : undefined;
    for (const m of this.members) m.monitor.start();
  }

  get name(): string {
    return this.options.name;
  }

  get schema(): string | undefined {
    return this.options.schema;
  }

  /**
   * One statement on the primary, retried on connection failures. Use it for reads and idempotent writes:
   * a statement whose connection died may run again. Everything else belongs in `transaction`.
   */
  query<R = Row>(sql: string, params?: unknown[]): Promise<R[]> {
    return this.onPrimary(() => this.runOn(this.primary, sql, params));
  }

  /**
   * `work` on the primary with `query`'s rules (retried on connection failures, a lost primary noticed at once), for
   * what another client sends over the primary pool (a Prisma client's reads): only reads and idempotent writes.
   */
  onPrimary<T>(work: () => Promise<T>): Promise<T> {
    return this.noticingPrimaryLoss(this.withConnectionRetry(work));
  }

  /**
   * `query` as a prepared statement: parsed and planned once per connection, then only bound and run. For
   * hot statements whose best plan does not depend on their parameters or on how big the tables are (the
   * outbox relay's claim): Postgres may keep a generic plan for a prepared statement, which is exactly what
   * such a statement wants and what one whose best plan changes with its parameters must not get.
   */
  queryPrepared<R = Row>(name: string, sql: string, params?: unknown[]): Promise<R[]> {
    return this.onPrimary(() => this.runOn(this.primary, sql, params, { name }));
  }

  /**
   * One statement that may be answered by a replica: by one within `replicaLagMaxMs` of the primary, else by the
   * primary, else (the primary down) by any replica that answers, however far behind. Only for reads that
   * tolerate that lag, never one that must see the caller's own write just made, and never inside a transaction.
   * A replica that fails mid-read hands the read to the primary.
   */
  queryRead<R = Row>(sql: string, params?: unknown[]): Promise<R[]> {
    return this.onReadPool((pool) => this.runOn<R>(pool, sql, params));
  }

  /**
   * `work` on the pool `queryRead` would send a read to, with its rules (another pool when that one fails), for the
   * lag-tolerant reads another client sends over these pools (a Prisma client's, one per pool).
   */
  onReadPool<T>(work: (pool: pg.Pool) => Promise<T>): Promise<T> {
    const pool = this.pickReadPool();
    const onReplica = (replica: pg.Pool) => {
      this.metrics?.reads.inc({ database: this.options.name, target: 'replica' });
      return this.withConnectionRetry(() => work(replica));
    };
    const onPrimary = () => this.onPrimary(() => work(this.primary));
    if (pool !== this.primary)
      return onReplica(pool).catch((error: unknown) =>
        isConnectionError(error) ? onPrimary() : Promise.reject(error),
      );
    this.metrics?.reads.inc({ database: this.options.name, target: 'primary' });
    // The primary lost before its monitor noticed: the read goes to a replica that answers (queries failing on
    // the primary have it checked at once, so the next reads go there directly).
    return onPrimary().catch((error: unknown) => {
      const replica = isConnectionError(error)
        ? this.replicaMembers.find((m) => m.monitor.result.status === 'ok')
        : undefined;
      return replica ? onReplica(replica.pool) : Promise.reject(error);
    });
  }

  /**
   * `queryRead` as a prepared statement (see queryPrepared), on whichever connection the read goes to: for a hot,
   * lag-tolerant read whose plan does not depend on its parameters (the order book's snapshot).
   */
  queryReadPrepared<R = Row>(name: string, sql: string, params?: unknown[]): Promise<R[]> {
    return this.onReadPool((pool) => this.runOn<R>(pool, sql, params, { name }));
  }

  /** `queryRead` behind the shape repositories take (`sql.query(...)`), for the reads that tolerate lag. */
  readonly replicaReader: SqlRunner = { query: (sql, params) => this.queryRead(sql, params) };

  /**
   * `query` and `replicaReader` for statements that need transaction-local settings outside a transaction (a read
   * under row-level security, which reads the acting user from one): each statement runs as BEGIN, the settings,
   * the statement and COMMIT, sent in one round trip, on the connection `query` or `queryRead` would use.
   */
  withSettings(settings: Settings): { primary: SqlRunner; replicaReader: SqlRunner } {
    return {
      primary: { query: (sql, params) => this.onPrimary(() => this.runOn(this.primary, sql, params, { settings })) },
      replicaReader: { query: (sql, params) => this.onReadPool((pool) => this.runOn(pool, sql, params, { settings })) },
    };
  }

  /**
   * Runs `body` inside BEGIN … COMMIT on the primary. A connection lost before COMMIT was sent leaves nothing
   * behind (the server rolls back), so that case is always retried; a connection lost after it was sent is
   * never retried: the outcome is unknown. 40001/40P01 are answers from the server that the transaction was
   * rolled back (also when COMMIT or a deferred write gets them), retried when the caller says the body may
   * run again. `settings` are made with BEGIN, in its round trip.
   */
  transaction<T>(body: (tx: Tx) => Promise<T>, options: TransactionOptions & { settings?: Settings } = {}): Promise<T> {
    return this.retryingTransaction(async (attempt) => {
      // Not connect-with-retry: the retry loop around this attempt already retries a lost connection, and nesting
      // the two would multiply the attempts.
      const client = await this.primary.connect();
      // BEGIN rides with the body's first statement (one round trip fewer); a body that sends nothing
      // costs nothing, not even BEGIN and COMMIT.
      const begin = [
        { sql: options.isolation ? `BEGIN ISOLATION LEVEL ${options.isolation}` : 'BEGIN' },
        ...settingStatements(options.settings),
      ];
      let begun = false;
      /** Statements of sendWithNext, waiting for the next round trip, and who waits for their rows. */
      const riding: Array<{ statement: Statement; settle: (rows: Row[] | undefined, error?: unknown) => void }> = [];
      const send = async (statements: Statement[]): Promise<pg.QueryResult[]> => {
        const head = [...(begun ? [] : begin), ...riding.map((r) => r.statement)];
        const riders = riding.splice(0);
        begun = true;
        try {
          const results = await queryPipelined(client, [...head, ...statements]);
          riders.forEach((r, i) => r.settle(results[head.length - riders.length + i]!.rows));
          return results.slice(head.length);
        } catch (error) {
          for (const r of riders) r.settle(undefined, error);
          throw error;
        }
      };
      const deferred: Statement[] = [];
      let committed = false;
      const tx: Tx = {
        query: (sql, params) => this.timed(sql, () => send([{ sql, params }])).then(([r]) => r!.rows as never),
        queries: (statements) =>
          this.timed(statements.map((s) => s.sql).join('; '), () => send(statements)).then((rs) =>
            rs.map((r) => r.rows as never),
          ),
        defer: (sql, params) => void deferred.push({ sql, params }),
        sendWithNext: (sql, params) => {
          if (committed) throw new Error('sendWithNext: the transaction has committed already');
          const rows = new Promise<Row[]>((resolve, reject) =>
            riding.push({
              statement: { sql, params },
              settle: (result, error) => (result ? resolve(result) : reject(error)),
            }),
          );
          // The body awaits it after its next round trip, whose own promise carries any error first.
          rows.catch(() => undefined);
          return rows as never;
        },
        commitWith: async (sql, params) => {
          if (committed) throw new Error('commitWith: the transaction has committed already');
          committed = true;
          attempt.committing();
          const statements = [{ sql, params }, ...deferred.splice(0), { sql: 'COMMIT' }];
          const [first] = await this.timed(statements.map((s) => s.sql).join('; '), () => send(statements));
          return first!.rows as never;
        },
        afterCommit: attempt.afterCommit,
      };
      let broken = false;
      try {
        const result = await body(tx);
        if (committed) {
          // commitWith's round trip took whatever rode with it; sendWithNext refuses after it.
          if (deferred.length > 0) throw new Error('a write was deferred after commitWith: it would never commit');
        } else if (deferred.length > 0 || riding.length > 0) {
          attempt.committing();
          await this.timed(deferred.map((s) => s.sql).join('; '), () => send([...deferred, { sql: 'COMMIT' }]));
        } else if (begun) {
          attempt.committing();
          await client.query('COMMIT');
        }
        return result;
      } catch (error) {
        for (const r of riding.splice(0)) r.settle(undefined, error);
        broken = isConnectionError(error);
        // After a failed statement the block waits for ROLLBACK; after a failed COMMIT it is over already,
        // and ROLLBACK only draws a warning.
        if (begun && !broken) await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release(broken ? true : undefined);
      }
    }, options);
  }

  /**
   * Runs `attempt` until it commits, with `transaction`'s rules: a connection lost before COMMIT was sent (the
   * attempt says when it sends it) is retried, 40001/40P01 when the caller marks the work retryable; its effects
   * after commit run once the attempt that committed returned. For transactions another client runs over the
   * primary pool (a Prisma client's: prisma-adapter.ts), so both follow one policy.
   */
  retryingTransaction<T>(
    attempt: (attempt: TransactionAttempt) => Promise<T>,
    options: TransactionOptions = {},
  ): Promise<T> {
    let commitSent = false;
    return this.noticingPrimaryLoss(
      retry(
        async () => {
          commitSent = false;
          const effects: Array<() => void> = [];
          const result = await attempt({
            committing: () => {
              commitSent = true;
            },
            afterCommit: (effect) => void effects.push(effect),
          });
          this.runEffects(effects);
          return result;
        },
        {
          ...this.retryDefaults,
          shouldRetry: (error) =>
            (options.retryable === true && isTransactionConflict(error)) || (!commitSent && isConnectionError(error)),
          onRetry: (error, attempt, delayMs) => {
            this.metrics?.retries.inc({ reason: isTransactionConflict(error) ? 'conflict' : 'connection' });
            this.options.logger?.warn('retrying transaction', { attempt, delayMs, error: (error as Error).message });
          },
        },
      ),
    );
  }

  /**
   * A statement that gave up on a lost primary has the primary checked at once (not at the next 30 s interval):
   * reads then go to the replicas and /health says so, and the quicker checks of a pool that is down see it back.
   */
  private noticingPrimaryLoss<T>(work: Promise<T>): Promise<T> {
    return work.catch((error: unknown) => {
      if (!this.closed && isConnectionError(error) && this.primaryMonitor.result.status === 'ok')
        void this.primaryMonitor.check();
      throw error;
    });
  }

  private runEffects(effects: Array<() => void>): void {
    for (const effect of effects) {
      try {
        effect();
      } catch (error) {
        this.options.logger?.warn('an effect after commit failed', { error: (error as Error).message });
      }
    }
  }

  poolStats(pool: pg.Pool = this.primary): PoolStats {
    return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max: pool.options.max ?? 10 };
  }

  health(): DatabaseHealth {
    const primary = { ...this.primaryMonitor.result, pool: this.poolStats(this.primary) };
    const replicas = this.replicaMembers.map((m) => ({
      ...m.monitor.result,
      pool: this.poolStats(m.pool),
      fresh: this.isFresh(m),
    }));
    const primaryUp = primary.status === 'ok';
    const status: ComponentStatus = primaryUp
      ? replicas.every((r) => r.fresh)
        ? 'ok'
        : 'degraded'
      : replicas.some((r) => r.status === 'ok')
        ? 'degraded'
        : 'down';
    return { status, primary, replicas };
  }

  /** Pings every pool now (used at boot and by db:health) instead of waiting for the next interval. */
  async checkNow(): Promise<DatabaseHealth> {
    await Promise.all(this.members.map((m) => m.monitor.check()));
    return this.health();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const m of this.members) m.monitor.stop();
    await Promise.all(this.members.map((m) => m.pool.end()));
  }

  /** One statement on a connection of `pool`: prepared under `name`, or in a transaction of its own with `settings`. */
  private async runOn<R>(
    pool: pg.Pool,
    sql: string,
    params?: unknown[],
    { name, settings }: { name?: string; settings?: Settings } = {},
  ): Promise<R[]> {
    const client = await pool.connect();
    let broken = false;
    try {
      if (!settings)
        return (await this.timed(sql, () => client.query({ text: sql, values: params, name }))).rows as R[];
      const statements = [{ sql: 'BEGIN' }, ...settingStatements(settings), { sql, params }, { sql: 'COMMIT' }];
      const results = await this.timed(sql, () => queryPipelined(client, statements));
      return results[results.length - 2]!.rows as R[];
    } catch (error) {
      broken = isConnectionError(error);
      // A statement that failed in its own transaction leaves the block open, waiting for ROLLBACK.
      if (settings && !broken) await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release(broken ? true : undefined);
    }
  }

  private withConnectionRetry<T>(work: () => Promise<T>): Promise<T> {
    return retry(work, {
      ...this.retryDefaults,
      shouldRetry: (error) => !this.closed && isConnectionError(error),
      onRetry: (error, attempt, delayMs) => {
        this.metrics?.retries.inc({ reason: 'connection' });
        this.options.logger?.warn('retrying after a lost database connection', {
          attempt,
          delayMs,
          error: (error as Error).message,
        });
      },
    });
  }

  private isFresh(m: Member): boolean {
    const { status, lagMs } = m.monitor.result;
    return status === 'ok' && lagMs !== undefined && lagMs !== null && lagMs <= this.replicaLagMaxMs;
  }

  /** From the last measurements (see queryRead): no probe per read. */
  private pickReadPool(): pg.Pool {
    if (this.replicaMembers.length === 0) return this.primary;
    let candidates = this.replicaMembers.filter((m) => this.isFresh(m));
    if (candidates.length === 0 && this.primaryMonitor.result.status !== 'ok')
      candidates = this.replicaMembers.filter((m) => m.monitor.result.status === 'ok');
    if (candidates.length === 0) return this.primary;
    this.replicaCursor = (this.replicaCursor + 1) % candidates.length;
    return candidates[this.replicaCursor]!.pool;
  }

  private async timed<T>(sql: string, run: () => Promise<T>): Promise<T> {
    const startedAt = performance.now();
    try {
      return await run();
    } finally {
      this.recordQuery(sql, performance.now() - startedAt);
    }
  }

  /**
   * Counts a statement in db_query_duration_seconds and logs it when slower than `slowQueryMs`: every statement sent
   * through this class, and those another client reports sending over its pools (a Prisma client's query events).
   */
  recordQuery(sql: string, durationMs: number): void {
    this.metrics?.queryDuration.observe(durationMs / 1000);
    if (durationMs >= this.slowQueryMs) {
      this.metrics?.slowQueries.inc();
      this.options.logger?.warn('slow query', {
        durationMs: Math.round(durationMs * 1000) / 1000,
        sql: sql.replace(/\s+/g, ' ').slice(0, 300),
      });
    }
  }
}

function createMetrics(registry: Registry, name: string, db: Database) {
  const labels = { database: name };
  new Gauge({
    name: 'db_pool_connections',
    help: 'Connections in the primary pool by state',
    labelNames: ['database', 'state'],
    registers: [registry],
    collect() {
      const stats = db.poolStats();
      this.set({ ...labels, state: 'total' }, stats.total);
      this.set({ ...labels, state: 'idle' }, stats.idle);
      this.set({ ...labels, state: 'waiting' }, stats.waiting);
      this.set({ ...labels, state: 'max' }, stats.max);
    },
  });
  new Gauge({
    name: 'db_up',
    help: '1 when the last health ping of the primary succeeded',
    labelNames: ['database'],
    registers: [registry],
    collect() {
      this.set(labels, db.health().primary.status === 'ok' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'db_ping_latency_seconds',
    help: 'Latency of the last health ping of the primary',
    labelNames: ['database'],
    registers: [registry],
    collect() {
      const latencyMs = db.health().primary.latencyMs;
      if (latencyMs !== null) this.set(labels, latencyMs / 1000);
    },
  });
  new Gauge({
    name: 'db_replica_lag_seconds',
    help: 'Replay lag of each replica at its last check (by its place in DATABASE_REPLICA_URLS)',
    labelNames: ['database', 'replica'],
    registers: [registry],
    collect() {
      db.health().replicas.forEach((r, i) => {
        if (r.lagMs !== undefined && r.lagMs !== null) this.set({ ...labels, replica: String(i) }, r.lagMs / 1000);
      });
    },
  });
  return {
    queryDuration: new Histogram({
      name: 'db_query_duration_seconds',
      help: 'Duration of SQL statements sent through the pool manager',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    slowQueries: new Counter({
      name: 'db_slow_queries_total',
      help: 'Statements slower than the slow-query threshold',
      registers: [registry],
    }),
    retries: new Counter({
      name: 'db_retries_total',
      help: 'Connection and transaction retries',
      labelNames: ['reason'],
      registers: [registry],
    }),
    reads: new Counter({
      name: 'db_lag_tolerant_reads_total',
      help: 'Reads that tolerate replica lag, by the pool that served them',
      labelNames: ['database', 'target'],
      registers: [registry],
    }),
  };
}
