import type pg from 'pg';
import { rssMb, usage, usageOf, type Usage } from './open-loop';

/** How often RSS, the database's connections and its backends' CPU are sampled during a window. */
const SAMPLE_INTERVAL_MS = 500;

export interface MeteredProcess {
  label: string;
  pid: number;
}

export interface MeterOptions {
  /** The stack's own node processes (services, gateway). */
  processes: MeteredProcess[];
  /** The bench's private redis-server; without it, every redis-server on the machine is counted. */
  redisPid?: number;
  /** A connection to another database of the server (its queries must not count as the bench database's). */
  admin: pg.Client;
  /** The bench database: only its backends (and the server's shared writers) are Postgres's share. */
  databaseName: string;
}

export interface Window<T> {
  result: T;
  /** CPU seconds by process; `postgres` is the bench database's backends plus the server's own processes. */
  cpuS: Record<string, number>;
  /** write/writev syscalls by process. */
  writes: Record<string, number>;
  rssMbMax: Record<string, number>;
  /** The most connections the bench database had at once. */
  pgConnectionsMax: number;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/**
 * What the stack spends while some work runs, process by process. Postgres and Redis serve other engineers'
 * test runs on this machine too, so Postgres is counted as the backends of the bench database (each followed
 * by its pid, so a backend that exits in the window still counts up to its last sample) plus the server's
 * processes that belong to no database (WAL writer, checkpointer, background writer), and Redis as the bench's
 * private server.
 */
export class StackMeter {
  constructor(private readonly options: MeterOptions) {}

  /** Pids of the bench database's backends and of the server's own processes. */
  private async postgresPids(): Promise<{ pids: number[]; connections: number }> {
    const { rows } = await this.options.admin.query<{ pid: number; bench: boolean }>(
      'SELECT pid, datname IS NOT NULL AS bench FROM pg_stat_activity WHERE datname = $1 OR datname IS NULL',
      [this.options.databaseName],
    );
    return { pids: rows.map((r) => r.pid), connections: rows.filter((r) => r.bench).length };
  }

  private async fixed(): Promise<Record<string, Usage>> {
    const entries = await Promise.all(this.options.processes.map(async (p) => [p.label, await usage(p.pid)] as const));
    const redis = this.options.redisPid ? await usage(this.options.redisPid) : await usageOf('redis-server');
    return Object.fromEntries([...entries, ['redis', redis], ['bench client', await usage(process.pid)]]);
  }

  async measure<T>(work: () => Promise<T>): Promise<Window<T>> {
    const rssMbMax: Record<string, number> = {};
    let pgConnectionsMax = 0;
    const backendsFirst = new Map<number, Usage>();
    const backendsLast = new Map<number, Usage>();
    const samplePostgres = async (first: boolean) => {
      const { pids, connections } = await this.postgresPids();
      pgConnectionsMax = Math.max(pgConnectionsMax, connections);
      await Promise.all(
        pids.map(async (pid) => {
          const now = await usage(pid);
          // A backend born in the window spent all its CPU in it.
          if (!backendsFirst.has(pid)) backendsFirst.set(pid, first ? now : { cpuS: 0, writes: 0 });
          if (now.cpuS > 0 || !backendsLast.has(pid)) backendsLast.set(pid, now);
        }),
      );
    };
    const sample = async () => {
      await samplePostgres(false);
      for (const p of this.options.processes) rssMbMax[p.label] = Math.max(rssMbMax[p.label] ?? 0, await rssMb(p.pid));
    };

    await samplePostgres(true);
    const before = await this.fixed();
    let sampling = Promise.resolve();
    const timer = setInterval(() => (sampling = sampling.then(sample).catch(() => undefined)), SAMPLE_INTERVAL_MS);
    let result: T;
    try {
      result = await work();
    } finally {
      clearInterval(timer);
      await sampling;
    }
    const after = await this.fixed();
    await samplePostgres(false).catch(() => undefined);

    const cpuS: Record<string, number> = {};
    const writes: Record<string, number> = {};
    for (const label of Object.keys(after)) {
      cpuS[label] = round2(after[label]!.cpuS - before[label]!.cpuS);
      writes[label] = after[label]!.writes - before[label]!.writes;
    }
    let pgCpuS = 0;
    let pgWrites = 0;
    for (const [pid, last] of backendsLast) {
      const first = backendsFirst.get(pid)!;
      pgCpuS += last.cpuS - first.cpuS;
      pgWrites += last.writes - first.writes;
    }
    cpuS.postgres = round2(pgCpuS);
    writes.postgres = pgWrites;
    return { result, cpuS, writes, rssMbMax, pgConnectionsMax };
  }
}

/** Sums two windows' figures label by label (e.g. a step and the backlog it left). */
export function addUp(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const labels = new Set([...Object.keys(a), ...Object.keys(b)]);
  return Object.fromEntries([...labels].map((label) => [label, round2((a[label] ?? 0) + (b[label] ?? 0))]));
}

/** The stack's share: every process but the load generator. */
export function stackTotal(byProcess: Record<string, number>): number {
  return round2(Object.entries(byProcess).filter(([label]) => label !== 'bench client').reduce((sum, [, value]) => sum + value, 0));
}
