import type { Logger } from '@orrange/logger';
import { dueItemsSweeper, type Sweeper } from '@orrange/runtime';
import type { Registry } from 'prom-client';
import { dueExpiredOrderIds } from '../data/order.repository';
import { expireOrder } from '../domain/expire-order.use-case';
import type { OrderBookDeps } from '../domain/order-book.deps';

/** How many due orders one sweep expires (each in its own transaction); a full batch sweeps again at once. */
export const DUE_ORDERS_PER_SWEEP_MAX = 100;

/**
 * Order expiry is a row (orders.expires_at), fired by this sweep: after a restart or an outage every due order is
 * still found. Each expiry locks its market and order and re-checks them, so replicas sweeping together never
 * release a hold twice.
 */
export function orderExpirySweeper(
  deps: OrderBookDeps,
  options: { intervalMs: number; logger: Logger; registry: Registry },
): Sweeper {
  return dueItemsSweeper({
    ...options,
    timer: 'order-expiry',
    what: 'order expiry',
    due: (skipped) => dueExpiredOrderIds(deps.db, DUE_ORDERS_PER_SWEEP_MAX, skipped),
    fire: (orderId) => expireOrder(deps, orderId),
  });
}
