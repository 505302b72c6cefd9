import type { Pool } from 'pg';

export type ComponentStatus = 'ok' | 'degraded' | 'down';

export interface PingResult {
  status: ComponentStatus;
  latencyMs: number | null;
  checkedAt: string | null;
  consecutiveFailures: number;
  error?: string;
}

const PING_TIMEOUT_MS = 2_000;

/**
 * Pings one pool on an interval (30 s by default) and remembers the last answer, so that /health and
 * /metrics read a recent fact instead of opening a connection per scrape.
 */
export class HealthMonitor {
  private last: PingResult = { status: 'ok', latencyMs: null, checkedAt: null, consecutiveFailures: 0 };
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pool: Pool,
    private readonly intervalMs: number,
    private readonly onChange?: (result: PingResult, previous: PingResult) => void,
  ) {}

  start(): void {
    if (this.timer || this.intervalMs <= 0) return;
    void this.check();
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  get result(): PingResult {
    return this.last;
  }

  async check(): Promise<PingResult> {
    const startedAt = performance.now();
    let next: PingResult;
    try {
      await withTimeout(this.pool.query('SELECT 1'), PING_TIMEOUT_MS);
      next = { status: 'ok', latencyMs: round(performance.now() - startedAt), checkedAt: new Date().toISOString(), consecutiveFailures: 0 };
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
    if (previous.status !== next.status) this.onChange?.(next, previous);
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
