import type { Logger } from '@orrange/logger';
import { dueItemsSweeper, type Sweeper } from '@orrange/runtime';
import type { Registry } from 'prom-client';
import { dueTradeIds } from '../data/trade.repository';
import { expireTrade, type TradeDeps } from '../domain/trades.use-case';
import type { LiveUpdates } from './live-updates';

/** How many due trades one sweep expires (each in its own transaction); a full batch sweeps again at once. */
export const DUE_TRADES_PER_SWEEP_MAX = 100;

/**
 * Payment deadlines are rows (trades.payment_deadline, set by open_trades), fired by this sweep: after a restart,
 * an outage or a Redis that lost everything, every due trade is still found. Each expiry locks its trade and
 * re-checks it, so replicas sweeping together, or a buyer paying at the last moment, never double anything.
 */
export function paymentDeadlineSweeper(
  deps: TradeDeps,
  live: LiveUpdates,
  options: { intervalMs: number; logger: Logger; registry: Registry },
): Sweeper {
  return dueItemsSweeper({
    ...options,
    timer: 'payment-deadline',
    what: 'payment deadline',
    due: (skipped) => dueTradeIds(deps.db, DUE_TRADES_PER_SWEEP_MAX, skipped),
    fire: async (tradeId) => {
      const cancelled =
        (await deps.db.transaction((tx) => expireTrade(tx, tradeId, deps), { retryable: true })) === 'cancelled';
      if (cancelled) void live.tradeChangedById(tradeId);
      return cancelled;
    },
  });
}
