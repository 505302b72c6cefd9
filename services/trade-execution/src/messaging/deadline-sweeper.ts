import type { Logger } from '@orrange/logger';
import { Sweeper } from '@orrange/runtime';
import type { Registry } from 'prom-client';
import { dueTradeIds } from '../data/trade.repository';
import { expireTrade, type TradeDeps } from '../domain/trades.use-cases';

/** How many due trades one sweep expires (each in its own transaction); a full batch sweeps again at once. */
export const DUE_TRADES_PER_SWEEP_MAX = 100;
/** How long a trade whose expiry failed is left out of the sweeps, and how many such trades are remembered. */
export const FAILED_EXPIRY_BACKOFF_MS = 60_000;
export const FAILED_EXPIRIES_MAX = 1_000;

/**
 * Payment deadlines are rows (trades.payment_deadline, set by open_trades), fired by this sweep: after a restart,
 * an outage or a Redis that lost everything, every due trade is still found. Each expiry locks its trade and
 * re-checks it, so replicas sweeping together, or a buyer paying at the last moment, never double anything.
 */
export function paymentDeadlineSweeper(deps: TradeDeps, options: { intervalMs: number; logger: Logger; registry: Registry }): Sweeper {
  const failed = new Map<string, number>();
  return new Sweeper({
    timer: 'payment-deadline',
    intervalMs: options.intervalMs,
    logger: options.logger,
    registry: options.registry,
    async sweep() {
      const now = Date.now();
      for (const [tradeId, until] of failed) if (until <= now) failed.delete(tradeId);
      let fired = 0;
      for (const tradeId of await dueTradeIds(deps.db, DUE_TRADES_PER_SWEEP_MAX, [...failed.keys()])) {
        // A trade that cannot be expired (a bug, a broken row) is logged and left out for a while, so that it
        // never holds back the deadlines behind it.
        const outcome = await deps.db.transaction((tx) => expireTrade(tx, tradeId, deps), { retryable: true }).catch((error: unknown) => {
          options.logger.error('payment deadline not fired', { tradeId, error: error instanceof Error ? error.message : String(error) });
          if (failed.size < FAILED_EXPIRIES_MAX) failed.set(tradeId, Date.now() + FAILED_EXPIRY_BACKOFF_MS);
          return 'failed' as const;
        });
        if (outcome === 'cancelled') fired += 1;
      }
      return fired;
    },
  });
}
