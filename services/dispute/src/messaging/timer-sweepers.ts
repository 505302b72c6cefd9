import type { Logger } from '@orrange/logger';
import { Sweeper } from '@orrange/runtime';
import type { Registry } from 'prom-client';
import { dueTimerCases } from '../data/dispute.repository';
import { DISPUTE_TIMERS, fireTimer, type DisputeDeps, type DisputeTimer } from '../domain/dispute.use-cases';

/** How many due cases one sweep of a timer looks at (each in its own transaction); a sweep that fired sweeps again at once. */
export const DUE_CASES_PER_SWEEP_MAX = 100;
/** How long a case whose timer failed to fire is left out of the sweeps, and how many such cases are remembered. */
export const FAILED_TIMER_BACKOFF_MS = 60_000;
export const FAILED_TIMERS_MAX = 1_000;

/**
 * The evidence windows and assignment timeouts are rows (the case's deadline columns), fired by these sweeps: after a
 * restart, an outage, or a Redis that came back empty, every due timer is still found, and nothing waits on a delayed
 * job. Each fire locks its case and re-checks it, so replicas sweeping together never act twice. Counted by
 * timers_fired_total{timer="evidence-window" | "assignment-timeout"}.
 */
export function disputeTimerSweepers(deps: DisputeDeps, options: { intervalMs: number; logger: Logger; registry: Registry }): Sweeper[] {
  return DISPUTE_TIMERS.map((timer) => {
    const failed = new Map<string, number>();
    return new Sweeper({
      timer,
      intervalMs: options.intervalMs,
      logger: options.logger,
      registry: options.registry,
      sweep: () => sweepTimer(deps, timer, options.logger, failed),
    });
  });
}

/** `failed`: cases whose timer failed to fire, with when they may be tried again (this sweeper's memory). */
async function sweepTimer(deps: DisputeDeps, timer: DisputeTimer, logger: Logger, failed: Map<string, number>): Promise<number> {
  const now = Date.now();
  for (const [disputeId, until] of failed) if (until <= now) failed.delete(disputeId);
  let fired = 0;
  for (const disputeId of await dueTimerCases(deps.db, timer, DUE_CASES_PER_SWEEP_MAX, [...failed.keys()])) {
    // A case whose timer cannot fire (a bug, a broken row) is logged and left out for a while, so that it never
    // holds back the timers behind it.
    const done = await deps.db.transaction((tx) => fireTimer(deps, tx, disputeId, timer), { retryable: true }).catch((error: unknown) => {
      logger.error('dispute timer not fired', { disputeId, timer, error: error instanceof Error ? error.message : String(error) });
      if (failed.size < FAILED_TIMERS_MAX) failed.set(disputeId, Date.now() + FAILED_TIMER_BACKOFF_MS);
      return false;
    });
    if (done) fired += 1;
  }
  return fired;
}
