import { Counter, Gauge, type Registry } from 'prom-client';
import type { Database } from '@orrange/db';
import { openTradeCounts } from './data/stats.repository';
import { OPEN_STATES } from './domain/trade-state-machine';

/** Business metrics on /metrics: completed volume per asset (a counter) and open trades by status (a gauge read from the database). */
export interface BusinessMetrics {
  tradeCompleted(asset: string, amount: string): void;
}

export function createBusinessMetrics(registry: Registry, db: Database): BusinessMetrics {
  const volume = new Counter({ name: 'trade_volume_total', help: 'Crypto volume of completed trades, in asset units', labelNames: ['asset'], registers: [registry] });
  const completed = new Counter({ name: 'trades_completed_total', help: 'Completed trades', labelNames: ['asset'], registers: [registry] });
  new Gauge({
    name: 'trades_open',
    help: 'Trades not yet settled, by status',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const rows = await openTradeCounts(db).catch(() => undefined);
      if (!rows) return;
      this.reset();
      for (const status of OPEN_STATES) this.set({ status }, rows.find((r) => r.status === status)?.n ?? 0);
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
