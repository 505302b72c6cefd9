import type pg from 'pg';
import type { Redis } from 'ioredis';

/**
 * Work counters of the whole stack, read before and after a step so that a step's orders can be divided into
 * them: what one order costs in statements, commits, Redis commands, queue jobs and HTTP requests. Each is read
 * where it cannot include other engineers' work on the shared servers (the bench database's own statistics,
 * the bench's private Redis), and without adding to what it counts (read from another database, routes left out).
 */
export interface Counters {
  /** Transactions committed in the bench database (pg_stat_database.xact_commit). */
  pgCommits: number;
  pgRollbacks: number;
  /** Statements run in the bench database (pg_stat_statements), when the server has it loaded. */
  pgStatements?: number;
  /** Commands the bench's Redis processed (INFO total_commands_processed), ours to read them included. */
  redisCommands: number;
  /** Queue jobs consumed: every consumed event leaves one inbox row in its consumer's schema. */
  queueJobs: number;
  /**
   * Requests the services served, health probes, metrics scrapes and book reads left out. The gateway's are not
   * read from it (its node:cluster workers count apart): it serves exactly the requests the bench sends.
   * Undefined when a service's /metrics could not be read (then no count is better than a short one).
   */
  serviceRequests?: number;
}

export interface CounterSources {
  admin: pg.Client;
  /** A connection to the bench database (inbox rows, pg_stat_statements). */
  bench: pg.Client;
  databaseName: string;
  redis: Redis;
  /** `/metrics` of every service. */
  serviceMetricsUrls: string[];
  statementsAvailable: boolean;
}

/** Routes that are not the orders' work: probes, scrapes and the book reads run beside. */
const NOT_ORDER_WORK = /^(\/health|\/metrics|unmatched|\/api\/v1\/orderbook)$/;

/** Sums `*_request_duration_seconds_count` samples of a Prometheus page, leaving out NOT_ORDER_WORK. */
export function requestCount(page: string): number {
  let total = 0;
  for (const line of page.split('\n')) {
    const match = /^\w*http_request_duration_seconds_count\{([^}]*)\}\s+(\d+(?:\.\d+)?(?:e\+?\d+)?)/.exec(line);
    if (!match) continue;
    const where = /route="([^"]*)"/.exec(match[1]!)?.[1] ?? '';
    if (!NOT_ORDER_WORK.test(where)) total += Number(match[2]);
  }
  return total;
}

async function metricsPage(url: string): Promise<string | undefined> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
  return res?.ok ? res.text() : undefined;
}

/** The schemas that hold an inbox table (every consuming service's). */
export async function inboxSchemas(bench: pg.Client): Promise<string[]> {
  const { rows } = await bench.query<{ schema: string }>(
    `SELECT table_schema AS schema FROM information_schema.tables WHERE table_name = 'inbox' ORDER BY 1`,
  );
  return rows.map((r) => r.schema);
}

export async function readCounters(sources: CounterSources, schemas: string[]): Promise<Counters> {
  const { rows } = await sources.admin.query<{ commits: string; rollbacks: string }>(
    'SELECT xact_commit::text AS commits, xact_rollback::text AS rollbacks FROM pg_stat_database WHERE datname = $1',
    [sources.databaseName],
  );
  const statements = sources.statementsAvailable
    ? Number(
        (
          await sources.bench.query<{ n: string }>(
            'SELECT coalesce(sum(calls), 0)::text AS n FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())',
          )
        ).rows[0]!.n,
      )
    : undefined;
  const inbox = schemas.length
    ? Number(
        (
          await sources.bench.query<{ n: string }>(
            `SELECT (${schemas.map((s) => `(SELECT count(*) FROM "${s}".inbox)`).join(' + ')})::text AS n`,
          )
        ).rows[0]!.n,
      )
    : 0;
  const info = await sources.redis.info('stats');
  const servicePages = await Promise.all(sources.serviceMetricsUrls.map(metricsPage));
  return {
    pgCommits: Number(rows[0]?.commits ?? 0),
    pgRollbacks: Number(rows[0]?.rollbacks ?? 0),
    pgStatements: statements,
    redisCommands: commandsProcessed(info),
    queueJobs: inbox,
    serviceRequests: servicePages.every((page) => page !== undefined)
      ? servicePages.reduce((sum, page) => sum + requestCount(page!), 0)
      : undefined,
  };
}

export interface PerOrder {
  pgStatements?: number;
  pgCommits: number;
  pgRollbacks: number;
  redisCommands: number;
  queueJobs: number;
  /** Requests the stack served per order: the client's own at the gateway plus every hop behind it. */
  httpRequests?: number;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/**
 * What one accepted order cost between two readings; `sent` is how many orders the gateway was sent (each one
 * request there, whatever became of it).
 */
export function perOrder(before: Counters, after: Counters, accepted: number, sent: number): PerOrder | undefined {
  if (accepted <= 0) return undefined;
  const per = (delta: number) => round2(delta / accepted);
  const http =
    after.serviceRequests !== undefined && before.serviceRequests !== undefined
      ? sent + after.serviceRequests - before.serviceRequests
      : undefined;
  return {
    pgStatements:
      after.pgStatements !== undefined && before.pgStatements !== undefined
        ? per(after.pgStatements - before.pgStatements)
        : undefined,
    pgCommits: per(after.pgCommits - before.pgCommits),
    pgRollbacks: per(after.pgRollbacks - before.pgRollbacks),
    redisCommands: per(after.redisCommands - before.redisCommands),
    queueJobs: per(after.queueJobs - before.queueJobs),
    httpRequests: http === undefined ? undefined : per(http),
  };
}

/** Commands a Redis has processed, from its `INFO stats`. */
export function commandsProcessed(statsInfo: string): number {
  return Number(/total_commands_processed:(\d+)/.exec(statsInfo)?.[1] ?? 0);
}
