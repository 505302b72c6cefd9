import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Database } from '@orrange/db';
import { statusCountGauge } from '@orrange/http';
import { AS_SYSTEM } from '@orrange/db';
import { activeUsers24h, openTradeCounts } from './data/stats.repository';
import { withdrawalCounts } from './data/withdrawal.repository';
import type { CustodyCallObserver } from './domain/custody-provider';
import type { CustodyMetrics } from './domain/custody';
import type { BusinessMetrics } from './domain/trade';
import { OPEN_STATES } from './domain/trade-state-machine';
import { WITHDRAWAL_STATES } from './domain/withdrawal';

/** Business metrics on /metrics: completed volume per asset (a counter) and open trades by status (a gauge read from the database). */
export function createBusinessMetrics(registry: Registry, db: Database): BusinessMetrics {
  const volume = new Counter({
    name: 'trade_volume_total',
    help: 'Crypto volume of completed trades, in asset units',
    labelNames: ['asset'],
    registers: [registry],
  });
  const completed = new Counter({
    name: 'trades_completed_total',
    help: 'Completed trades',
    labelNames: ['asset'],
    registers: [registry],
  });
  statusCountGauge(registry, {
    name: 'trades_open',
    help: 'Trades not yet settled, by status',
    statuses: OPEN_STATES,
    count: () => openTradeCounts(db),
  });
  new Gauge({
    name: 'active_users_24h',
    help: 'Users who placed, took or traded in the last 24 hours',
    registers: [registry],
    async collect() {
      // A replica's lag is nothing to a day's count; a failed count keeps the last value.
      const n = await activeUsers24h(db.replicaReader).catch(() => undefined);
      if (n !== undefined) this.set(n);
    },
  });
  return {
    // The counter is a float for dashboards only; balances never touch it.
    tradeCompleted(asset, amount) {
      volume.inc({ asset }, Number(amount));
      completed.inc({ asset });
    },
  };
}

/** Custody's side of /metrics: deposits credited, webhooks by outcome, withdrawals by status, custody calls. */
export function createCustodyMetrics(
  registry: Registry,
  db: Database,
  provider: string,
): CustodyMetrics & { observeCall: CustodyCallObserver } {
  const credited = new Counter({
    name: 'deposits_credited_total',
    help: 'Custody deposits credited to users',
    labelNames: ['asset'],
    registers: [registry],
  });
  const webhooks = new Counter({
    name: 'custody_webhooks_total',
    help: 'Signed custody webhooks applied, already applied, or waiting for confirmations',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const rejected = new Counter({
    name: 'custody_webhooks_rejected_total',
    help: 'Custody webhooks refused (signature_*: 401) or kept for operators (422)',
    labelNames: ['reason'],
    registers: [registry],
  });
  const transitions = new Counter({
    name: 'withdrawal_transitions_total',
    help: 'Withdrawals entering each status',
    labelNames: ['status'],
    registers: [registry],
  });
  const calls = new Histogram({
    name: 'custody_call_duration_seconds',
    help: 'Calls to the custody provider, retries included',
    labelNames: ['provider', 'operation', 'outcome'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const failures = new Counter({
    name: 'custody_call_failures_total',
    help: 'Custody calls that ended refused or without an answer',
    labelNames: ['provider', 'operation', 'outcome'],
    registers: [registry],
  });
  statusCountGauge(registry, {
    name: 'withdrawals',
    help: 'Withdrawals by status',
    statuses: WITHDRAWAL_STATES,
    // Every user's withdrawals.
    count: () => withdrawalCounts(db.withSettings(AS_SYSTEM).primary),
  });
  return {
    depositCredited: (asset) => credited.inc({ asset }),
    webhook: (outcome) => webhooks.inc({ outcome }),
    webhookRejected: (reason) => rejected.inc({ reason }),
    withdrawalTransition: (status) => transitions.inc({ status }),
    observeCall(operation, outcome, seconds) {
      calls.observe({ provider, operation, outcome }, seconds);
      if (outcome !== 'ok') failures.inc({ provider, operation, outcome });
    },
  };
}
