import { Counter, type Registry } from 'prom-client';
import type { Logger } from '@orrange/logger';

export interface SweeperOptions {
  /** What the sweeper fires, as a metric label: `payment-deadline`, `evidence-window`, … */
  timer: string;
  intervalMs: number;
  /**
   * Fires what is due, at most a bounded batch, and says how many it fired. Must be safe to run on several
   * replicas at once and to fire an item another path fired already (each item re-checks its state under a lock).
   */
  sweep: () => Promise<number>;
  logger: Logger;
  registry?: Registry;
}

const counters = new WeakMap<Registry, Counter>();

/** One counter per registry: every timer of a service is a label of it. */
function firedCounter(registry: Registry): Counter {
  let counter = counters.get(registry);
  if (!counter) {
    counter = new Counter({ name: 'timers_fired_total', help: 'Timers fired by a sweep of the rows that hold them', labelNames: ['timer'], registers: [registry] });
    counters.set(registry, counter);
  }
  return counter;
}

/**
 * Timers are rows: each deadline lives in its owner's table with its due time, and a sweeper looks for due ones
 * every interval, so nothing depends on a delayed job that a Redis restart could lose. A sweep that fired a full
 * batch runs again at once (a backlog after an outage drains at full speed); an error is logged and the next
 * interval tries again.
 */
export class Sweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private readonly fired: Counter | undefined;

  constructor(private readonly options: SweeperOptions) {
    this.fired = options.registry ? firedCounter(options.registry) : undefined;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops sweeping and waits for a sweep in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One sweep now (tests, and a service that knows something just came due); resolves to how many fired. */
  async sweepNow(): Promise<number> {
    const fired = await this.options.sweep();
    if (fired > 0) this.fired?.inc({ timer: this.options.timer }, fired);
    return fired;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.sweepNow().then(
        (fired) => this.schedule(fired > 0 ? 0 : this.options.intervalMs),
        (error: unknown) => {
          this.options.logger.warn('timer sweep failed', { timer: this.options.timer, error: error instanceof Error ? error.message : String(error) });
          this.schedule(this.options.intervalMs);
        },
      );
    }, delayMs);
    this.timer.unref();
  }
}
