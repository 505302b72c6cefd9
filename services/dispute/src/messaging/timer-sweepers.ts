import type { Logger } from '@orrange/logger';
import { dueItemsSweeper, type Sweeper } from '@orrange/runtime';
import type { Registry } from 'prom-client';
import { dueTimerCases } from '../data/dispute.repository';
import { DISPUTE_TIMERS, fireTimer, type DisputeDeps } from '../domain/dispute.use-case';

/** How many due cases one sweep of a timer looks at (each in its own transaction); a sweep that fired sweeps again at once. */
export const DUE_CASES_PER_SWEEP_MAX = 100;

/**
 * The evidence windows and assignment timeouts are rows (the case's deadline columns), fired by these sweeps: after a
 * restart, an outage, or a Redis that came back empty, every due timer is still found, and nothing waits on a delayed
 * job. Each fire locks its case and re-checks it, so replicas sweeping together never act twice. Counted by
 * timers_fired_total{timer="evidence-window" | "assignment-timeout"}.
 */
export function disputeTimerSweepers(
  deps: DisputeDeps,
  options: { intervalMs: number; logger: Logger; registry: Registry },
): Sweeper[] {
  return DISPUTE_TIMERS.map((timer) =>
    dueItemsSweeper({
      ...options,
      timer,
      what: `dispute timer ${timer}`,
      due: (skipped) => deps.db.query((client) => dueTimerCases(client, timer, DUE_CASES_PER_SWEEP_MAX, skipped)),
      fire: (disputeId) => deps.db.transaction((tx) => fireTimer(deps, tx, disputeId, timer), { retryable: true }),
    }),
  );
}
