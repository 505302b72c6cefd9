import type { Tx } from '@orrange/db';
import { ASSET_SCALES, fromUnits, normalize, toUnits, type Asset } from '@orrange/money';
import { enqueueEvent, type EventPayload } from '@orrange/queue';
import { accountBalance, postMovement } from '../data/ledger.repository';
import { available, held, journalId } from './ledger';

/** Parses an event amount at the asset's scale; undefined when it has too many decimals or is not positive. */
export function unitsOf(amount: string, asset: Asset): bigint | undefined {
  try {
    const units = toUnits(amount, ASSET_SCALES[asset]);
    return units > 0n ? units : undefined;
  } catch {
    return undefined;
  }
}

/**
 * order.placed (SELL): AVAILABLE → HELD(order), answered with hold.placed, or hold.rejected when not covered.
 * A tombstone (the cancel arrived first) or an earlier placement makes it do nothing.
 */
export async function placeHold(tx: Tx, e: EventPayload<'order.placed'>): Promise<void> {
  if (e.side !== 'SELL') return;
  const units = unitsOf(e.amount, e.asset);
  const claimed = await tx.query(
    `INSERT INTO order_holds (order_id, user_id, asset, amount, status) VALUES ($1, $2, $3, $4::numeric, 'PENDING') ON CONFLICT DO NOTHING RETURNING 1`,
    [e.orderId, e.userId, e.asset, units === undefined ? '0' : e.amount],
  );
  if (claimed.length === 0) return;
  if (units === undefined) return reject('VALIDATION.FAILED');
  const outcome = await postMovement(tx, { id: journalId('hold', e.orderId), kind: 'HOLD', ref: e.orderId, legs: [available(e.userId, e.asset, -units), held(e.userId, e.orderId, e.asset, units)] });
  if (outcome === 'INSUFFICIENT') return reject('WALLET.INSUFFICIENT_FUNDS');
  await tx.query(`UPDATE order_holds SET status = 'PLACED', updated_at = now() WHERE order_id = $1`, [e.orderId]);
  await enqueueEvent(tx, 'hold.placed', { orderId: e.orderId });

  async function reject(reason: string) {
    await tx.query(`UPDATE order_holds SET status = 'REJECTED', updated_at = now() WHERE order_id = $1`, [e.orderId]);
    await enqueueEvent(tx, 'hold.rejected', { orderId: e.orderId, reason });
  }
}

/**
 * order.cancelled: releases exactly `remaining` of the hold back to AVAILABLE, never more than the hold holds.
 * Before the placement it leaves a tombstone, so the late placement holds nothing.
 */
export async function releaseHold(tx: Tx, e: EventPayload<'order.cancelled'>): Promise<void> {
  if (e.side !== 'SELL') return;
  const [hold] = await tx.query<{ status: string; user_id: string; asset: Asset }>('SELECT status, user_id, asset FROM order_holds WHERE order_id = $1 FOR UPDATE', [e.orderId]);
  if (!hold) {
    const inserted = await tx.query(
      `INSERT INTO order_holds (order_id, user_id, asset, amount, status) VALUES ($1, $2, $3, 0, 'CANCELLED_EARLY') ON CONFLICT DO NOTHING RETURNING 1`,
      [e.orderId, e.userId, e.asset],
    );
    // A placement raced in between: retry, and the next attempt sees it.
    if (inserted.length === 0) throw new Error(`order ${e.orderId}: hold appeared while cancelling; retrying`);
    return;
  }
  if (hold.status !== 'PLACED') return;
  const scale = ASSET_SCALES[hold.asset];
  const remaining = unitsOf(e.remaining, hold.asset) ?? 0n;
  const inHold = toUnits(normalize(await accountBalance(tx, 'HELD', hold.user_id, e.orderId, hold.asset), scale), scale);
  const release = remaining < inHold ? remaining : inHold;
  if (release > 0n) {
    const outcome = await postMovement(tx, { id: journalId('release-hold', e.orderId), kind: 'RELEASE_HOLD', ref: e.orderId, legs: [held(hold.user_id, e.orderId, hold.asset, -release), available(hold.user_id, hold.asset, release)] });
    // A match moved part of the hold between our read and the movement: start again with fresh numbers.
    if (outcome === 'INSUFFICIENT') throw new Error(`order ${e.orderId}: hold changed while releasing; retrying`);
  }
  await tx.query(`UPDATE order_holds SET status = 'RELEASED', released = $2::numeric, updated_at = now() WHERE order_id = $1`, [e.orderId, fromUnits(release, scale)]);
}

