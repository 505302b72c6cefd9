import type { Pool } from 'pg';

export type ComponentStatus = 'ok' | 'degraded' | 'down';

export interface PingResult {
  status: ComponentStatus;
  latencyMs: number | null;
  checkedAt: string | null;
  consecutiveFailures: number;
  /** A replica's replay lag as of `checkedAt` (see REPLICA_LAG_SQL); null for the primary or before the first check. */
  lagMs?: number | null;
  error?: string;
}

export interface HealthMonitorOptions {
  /** Pause between checks while the pool answers (0: checked only when asked). */
  intervalMs: number;
  /**
   * Pause between checks while it does not, shorter than `intervalMs`, so that a pool coming back is seen within
   * about this long instead of a whole interval later.
   */
  downIntervalMs?: number;
  /** Measures a replica's lag instead of a bare `SELECT 1`. */
  measureLag?: boolean;
  onChange?: (result: PingResult, previous: PingResult) => void;
}

const PING_TIMEOUT_MS = 2_000;
const DOWN_INTERVAL_MS = 1_000;

/**
 * How far a replica is behind, in ms. While its WAL receiver streams and it has replayed all it received, it is
 * as fresh as the primary's last commit it was sent: 0 (measuring `now() - pg_last_xact_replay_timestamp()`
 * alone would call an idle primary's replica stale). Otherwise (replay paused or slow, or the primary gone) the
 * age of the last transaction it replayed. A server out of recovery (a promoted replica) is a primary: 0.
 * No WAL receiver (the primary gone or unreachable) is not streaming; a receiver whose status is hidden (roles
 * without pg_read_all_stats see its pid only) counts as streaming.
 */
const REPLICA_LAG_SQL = `
  SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN 0
    WHEN coalesce((SELECT coalesce(status = 'streaming', true) FROM pg_stat_wal_receiver), false)
         AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
    ELSE greatest(0, extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000)
  END::float8 AS "lagMs"`;

/**
 * Pings one pool on an interval (30 s by default for a primary, more often for replicas, whose lag it measures)
 * and remembers the last answer, so that /health, /metrics and the choice of a pool for a read use a recent fact
 * instead of a probe per request.
 */
export class HealthMonitor {
  private last: PingResult = { status: 'ok', latencyMs: null, checkedAt: null, consecutiveFailures: 0 };
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private inFlight: Promise<PingResult> | undefined;

  constructor(
    private readonly pool: Pool,
    private readonly options: HealthMonitorOptions,
  ) {}

  start(): void {
    if (this.running || this.options.intervalMs <= 0) return;
    this.running = true;
    void this.check();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  get result(): PingResult {
    return this.last;
  }

  /** Checks now; a check already running is shared, not doubled (a burst of failed writes asks many times). */
  check(): Promise<PingResult> {
    this.inFlight ??= this.probe().finally(() => {
      this.inFlight = undefined;
      this.scheduleNext();
    });
    return this.inFlight;
  }

  private scheduleNext(): void {
    if (!this.running) return;
    clearTimeout(this.timer);
    const { intervalMs, downIntervalMs = DOWN_INTERVAL_MS } = this.options;
    this.timer = setTimeout(
      () => void this.check(),
      this.last.status === 'ok' ? intervalMs : Math.min(intervalMs, downIntervalMs),
    );
    this.timer.unref();
  }

  private async probe(): Promise<PingResult> {
    const startedAt = performance.now();
    let next: PingResult;
    try {
      const result = await withTimeout(
        this.pool.query<{ lagMs: number }>(this.options.measureLag ? REPLICA_LAG_SQL : 'SELECT 1'),
        PING_TIMEOUT_MS,
      );
      next = {
        status: 'ok',
        latencyMs: round(performance.now() - startedAt),
        checkedAt: new Date().toISOString(),
        consecutiveFailures: 0,
      };
      if (this.options.measureLag) next.lagMs = round(result.rows[0]?.lagMs ?? 0);
    } catch (error) {
      next = {
        status: 'down',
        latencyMs: null,
        checkedAt: new Date().toISOString(),
        consecutiveFailures: this.last.consecutiveFailures + 1,
        error: error instanceof Error ? error.message : String(error),
      };
    }
    const previous = this.last;
    this.last = next;
    if (previous.status !== next.status) this.options.onChange?.(next, previous);
    return next;
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`ping timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
