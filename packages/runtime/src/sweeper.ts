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
    counter = new Counter({
      name: 'timers_fired_total',
      help: 'Timers fired by a sweep of the rows that hold them',
      labelNames: ['timer'],
      registers: [registry],
    });
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

  /** What it fires (SweeperOptions.timer), to find it among a runtime's sweepers. */
  get name(): string {
    return this.options.timer;
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
          this.options.logger.warn('timer sweep failed', {
            timer: this.options.timer,
            error: error instanceof Error ? error.message : String(error),
          });
          this.schedule(this.options.intervalMs);
        },
      );
    }, delayMs);
    this.timer.unref();
  }
}

/** How long an item whose firing failed is left out of the sweeps, and how many such items are remembered. */
export const FAILED_ITEM_BACKOFF_MS = 60_000;
export const FAILED_ITEMS_MAX = 1_000;

export interface DueItemsSweepOptions {
  /** What is fired, for the log: `payment deadline`, `dispute timer assignment-timeout`, … */
  what: string;
  /** The ids of the items due now, a bounded batch, most overdue first, leaving out `skipped`. */
  due: (skipped: string[]) => Promise<string[]>;
  /** Fires one item in a transaction of its own; true when this call fired it (false: it no longer applied). */
  fire: (id: string) => Promise<boolean>;
  logger: Logger;
}

/**
 * The sweep of a Sweeper over rows that come due: fires each due item in turn and counts what fired. An item
 * that cannot be fired (a bug, a broken row) is logged and left out for FAILED_ITEM_BACKOFF_MS, so that it never
 * holds back the items behind it in the batch.
 */
export function dueItemsSweep(options: DueItemsSweepOptions): () => Promise<number> {
  const failedUntil = new Map<string, number>();
  return async () => {
    const now = Date.now();
    for (const [id, until] of failedUntil) if (until <= now) failedUntil.delete(id);
    let fired = 0;
    for (const id of await options.due([...failedUntil.keys()])) {
      const done = await options.fire(id).catch((error: unknown) => {
        options.logger.error(`${options.what} not fired`, {
          id,
          error: error instanceof Error ? error.message : String(error),
        });
        if (failedUntil.size < FAILED_ITEMS_MAX) failedUntil.set(id, Date.now() + FAILED_ITEM_BACKOFF_MS);
        return false;
      });
      if (done) fired += 1;
    }
    return fired;
  };
}

/**
 * The Sweeper of a timer kept as rows: a dueItemsSweep of `due` and `fire` every `intervalMs`, counted as
 * timers_fired_total{timer}. The one shape of the services' timers (payment deadlines, order expiry, dispute timers,
 * withdrawal sends).
 */
export function dueItemsSweeper(
  options: Omit<SweeperOptions, 'sweep'> & Omit<DueItemsSweepOptions, 'logger'>,
): Sweeper {
  const { what, due, fire, ...sweeper } = options;
  return new Sweeper({ ...sweeper, sweep: dueItemsSweep({ what, due, fire, logger: sweeper.logger }) });
}
