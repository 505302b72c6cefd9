import { Counter, Histogram, type Registry } from 'prom-client';
import { statusCountGauge } from '@orrange/http';
import { DISPUTE_STATUSES } from '../domain/dispute';
import { countCasesByStatus } from '../data/dispute.repository';
import type { DisputeDatabase } from '../data/prisma';

const DURATION_BUCKETS_SECONDS = [60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600, 48 * 3600, 7 * 24 * 3600];

/**
 * Arbitration metrics. Made before the runtime (the event handlers need them) and registered on its
 * registry afterwards; the open-cases gauge reads the database at scrape time, so every replica reports the
 * same truth.
 */
export function createArbitrationMetrics() {
  return {
    escalations: new Counter({
      name: 'dispute_escalations_total',
      help: 'Cases escalated, by reason',
      labelNames: ['reason'],
      registers: [],
    }),
    timeToAssignment: new Histogram({
      name: 'dispute_time_to_assignment_seconds',
      help: 'From opening a case to its first assignment',
      buckets: DURATION_BUCKETS_SECONDS,
      registers: [],
    }),
    timeToResolution: new Histogram({
      name: 'dispute_time_to_resolution_seconds',
      help: 'From opening a case to its resolution',
      buckets: DURATION_BUCKETS_SECONDS,
      registers: [],
    }),
  };
}

export function registerArbitrationMetrics(
  registry: Registry,
  metrics: ReturnType<typeof createArbitrationMetrics>,
  db: DisputeDatabase,
): void {
  for (const metric of Object.values(metrics)) registry.registerMetric(metric);
  statusCountGauge(registry, {
    name: 'dispute_cases',
    help: 'Dispute cases by status (OPEN and UNDER_REVIEW are the open ones)',
    statuses: DISPUTE_STATUSES,
    count: () => db.query(countCasesByStatus),
  });
}
