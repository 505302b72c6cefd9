import type { SqlExecutor } from '@orrange/queue';
import type { Asset } from '@orrange/money';

export interface NewHold {
  orderId: string;
  userId: string;
  asset: Asset;
  /** The amount as a decimal string ('0' for an amount that cannot be held). */
  amount: string;
}

/**
 * Inserts the holds PENDING and returns the order ids that were not there yet: an order with a row already
 * (placed before, or a tombstone left by an early cancel) is not claimed. Rows go in in order id order, so two
 * groups claiming the same orders wait for each other instead of deadlocking.
 */
export async function claimHolds(tx: SqlExecutor, holds: NewHold[]): Promise<Set<string>> {
  if (holds.length === 0) return new Set();
  const rows = await tx.query<{ order_id: string }>(
    `INSERT INTO order_holds (order_id, user_id, asset, amount, status)
     SELECT h.order_id, h.user_id, h.asset, h.amount, 'PENDING' FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[]) AS h(order_id, user_id, asset, amount)
     ORDER BY h.order_id
     ON CONFLICT DO NOTHING RETURNING order_id`,
    [holds.map((h) => h.orderId), holds.map((h) => h.userId), holds.map((h) => h.asset), holds.map((h) => h.amount)],
  );
  return new Set(rows.map((r) => r.order_id));
}

/** Sets the status of claimed holds, one statement for all. */
export async function markHolds(tx: SqlExecutor, holds: Array<{ orderId: string; status: 'PLACED' | 'REJECTED' }>): Promise<void> {
  if (holds.length === 0) return;
  await tx.query(
    `UPDATE order_holds h SET status = d.status, updated_at = now() FROM unnest($1::text[], $2::text[]) AS d(order_id, status) WHERE h.order_id = d.order_id`,
    [holds.map((h) => h.orderId), holds.map((h) => h.status)],
  );
}
