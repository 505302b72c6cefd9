import { readdirSync, readFileSync } from 'node:fs';
import type pg from 'pg';
import { rssMb, usage, type Usage } from './open-loop';

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

/** Every process's parent and command name, from /proc (Linux). */
function processTable(): Array<{ pid: number; ppid: number; comm: string }> {
  const rows: Array<{ pid: number; ppid: number; comm: string }> = [];
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone since the listing
    }
    const open = stat.indexOf('(');
    const close = stat.lastIndexOf(') ');
    if (open >= 0 && close >= 0)
      rows.push({
        pid: Number(pid),
        ppid: Number(stat.slice(close + 2).split(' ')[1]),
        comm: stat.slice(open + 1, close),
      });
  }
  return rows;
}

/** A process and all its descendants (e.g. the gateway's node:cluster workers). */
function tree(table: Array<{ pid: number; ppid: number }>, root: number): number[] {
  const children = new Map<number, number[]>();
  for (const row of table) children.set(row.ppid, [...(children.get(row.ppid) ?? []), row.pid]);
  const found = [root];
  for (let i = 0; i < found.length; i++) found.push(...(children.get(found[i]!) ?? []));
  return found;
}

/**
 * Usage of a changing set of processes over a window: each pid is followed from its first sample (or from zero
 * when it was born in the window) to its last, so one that exits in the window still counts up to its last
 * sample.
 */
class PidUsage {
  private readonly first = new Map<number, Usage>();
  private readonly last = new Map<number, Usage>();

  sample(pids: number[], atStart: boolean): void {
    for (const pid of pids) {
      const now = usage(pid);
      if (!this.first.has(pid)) this.first.set(pid, atStart ? now : { cpuS: 0, writes: 0 });
      // A pid gone since reads as zero: keep what it had used.
      if (now.cpuS > 0 || now.writes > 0 || !this.last.has(pid)) this.last.set(pid, now);
    }
  }

  total(): Usage {
    let cpuS = 0;
    let writes = 0;
    for (const [pid, last] of this.last) {
      const first = this.first.get(pid)!;
      cpuS += last.cpuS - first.cpuS;
      writes += last.writes - first.writes;
    }
    return { cpuS, writes };
  }
}

/**
 * What the stack spends while some work runs, process by process. A node process counts with its
 * descendants (the gateway runs node:cluster workers). Postgres and Redis serve other engineers' test runs on
 * this machine too, so Postgres is counted as the backends of the bench database plus the server's processes
 * that belong to no database (WAL writer, checkpointer, background writer), and Redis as the bench's private
 * server. RSS is the largest single process of each node process's tree: the limit is per process.
 */
export class StackMeter {
  constructor(private readonly options: MeterOptions) {}

  /**
   * Pids of the bench database's backends, by the service that opened them (their application_name: a SQL function
   * of trade-execution's called by order-book counts as order-book's), and of the server's own processes.
   */
  private async postgresPids(): Promise<{ byLabel: Map<string, number[]>; connections: number }> {
    const { rows } = await this.options.admin.query<{ pid: number; bench: boolean; service: string }>(
      `SELECT pid, datname IS NOT NULL AS bench, coalesce(nullif(application_name, ''), 'other') AS service
         FROM pg_stat_activity WHERE datname = $1 OR datname IS NULL`,
      [this.options.databaseName],
    );
    const byLabel = new Map<string, number[]>();
    for (const row of rows) {
      const label = row.bench ? `postgres/${row.service}` : 'postgres';
      byLabel.set(label, [...(byLabel.get(label) ?? []), row.pid]);
    }
    return { byLabel, connections: rows.filter((r) => r.bench).length };
  }

  /**
   * The pids behind every label. The process table is scanned only when `scan` (at a window's start and end):
   * a scan reads every process's stat file, work the load generator's event loop would otherwise do twice a second.
   */
  private async pidsByLabel(scan: boolean): Promise<{ byLabel: Map<string, number[]>; pgConnections: number }> {
    if (scan || !this.trees) {
      const table = processTable();
      this.trees = new Map(this.options.processes.map((p) => [p.label, tree(table, p.pid)]));
      this.trees.set(
        'redis',
        this.options.redisPid
          ? [this.options.redisPid]
          : table.filter((r) => r.comm === 'redis-server').map((r) => r.pid),
      );
      this.trees.set('bench client', [process.pid]);
    }
    const postgres = await this.postgresPids();
    const byLabel = new Map([...this.trees, ...postgres.byLabel]);
    return { byLabel, pgConnections: postgres.connections };
  }

  private trees: Map<string, number[]> | undefined;

  async measure<T>(work: () => Promise<T>): Promise<Window<T>> {
    const rssMbMax: Record<string, number> = {};
    let pgConnectionsMax = 0;
    const usages = new Map<string, PidUsage>();
    const sample = async (atStart: boolean, rss: boolean) => {
      const { byLabel, pgConnections } = await this.pidsByLabel(!rss);
      pgConnectionsMax = Math.max(pgConnectionsMax, pgConnections);
      for (const [label, pids] of byLabel) {
        if (!usages.has(label)) usages.set(label, new PidUsage());
        usages.get(label)!.sample(pids, atStart);
      }
      if (!rss) return;
      for (const p of this.options.processes) {
        const sizes = (byLabel.get(p.label) ?? []).map(rssMb);
        rssMbMax[p.label] = Math.max(rssMbMax[p.label] ?? 0, ...sizes);
      }
    };

    await sample(true, false);
    let sampling = Promise.resolve();
    const timer = setInterval(
      () => (sampling = sampling.then(() => sample(false, true)).catch(() => undefined)),
      SAMPLE_INTERVAL_MS,
    );
    let result: T;
    try {
      result = await work();
    } finally {
      clearInterval(timer);
      await sampling;
    }
    await sample(false, false);

    const cpuS: Record<string, number> = {};
    const writes: Record<string, number> = {};
    for (const [label, used] of usages) {
      const { cpuS: cpu, writes: w } = used.total();
      cpuS[label] = round2(cpu);
      writes[label] = w;
    }
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
  return round2(
    Object.entries(byProcess)
      .filter(([label]) => label !== 'bench client')
      .reduce((sum, [, value]) => sum + value, 0),
  );
}
