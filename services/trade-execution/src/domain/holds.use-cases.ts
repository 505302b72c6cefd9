import { UnrecoverableError } from 'bullmq';
import type { Tx } from '@orrange/db';
import { ASSET_SCALES, fromUnits, numericUnits, toUnits, type Asset } from '@orrange/money';
import type { EventPayload } from '@orrange/queue';
import { postMovement } from '../data/ledger.repository';
import { available, held, journalId } from './ledger';

/** Parses a decimal from an event at `scale`; undefined when it is signed or has too many decimals. */
export function safeUnits(decimal: string, scale: number): bigint | undefined {
  try {
    return toUnits(decimal, scale);
  } catch {
    return undefined;
  }
}

/**
 * What a cancelled order has left, at its asset's scale. A negative amount (toUnits takes no sign), or one finer
 * than the asset allows, is a broken event: it fails without retries and changes nothing (read as 0 it would
 * mark the hold released and leave its amount HELD for good).
 */
function remainingUnits(e: EventPayload<'order.cancelled'>, asset: Asset): bigint {
  const units = safeUnits(e.remaining, ASSET_SCALES[asset]);
  if (units === undefined) throw new UnrecoverableError(`order.cancelled for ${e.orderId}: remaining ${e.remaining} is not an amount of ${asset}`);
  return units;
}

/**
 * order.cancelled: releases exactly `remaining` of the hold back to AVAILABLE, never more than the hold holds.
 * Before the placement it leaves a tombstone, so the late placement holds nothing.
 */
export async function releaseHold(tx: Tx, e: EventPayload<'order.cancelled'>): Promise<void> {
  if (e.side !== 'SELL') return;
  // The hold row is locked and what its HELD account holds is read with it (not locked: post_journal locks
  // accounts in id order, and a match taking part of the hold meanwhile makes the release retry below).
  const [hold] = await tx.query<{ status: string; user_id: string; asset: Asset; in_hold: string }>(
    `SELECT h.status, h.user_id, h.asset, coalesce(a.balance, 0)::text AS in_hold
     FROM order_holds h LEFT JOIN accounts a ON a.kind = 'HELD' AND a.owner_id = h.user_id AND a.ref_id = h.order_id AND a.asset = h.asset
     WHERE h.order_id = $1 FOR UPDATE OF h`,
    [e.orderId],
  );
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
  const remaining = remainingUnits(e, hold.asset);
  const inHold = numericUnits(hold.in_hold, scale);
  const release = remaining < inHold ? remaining : inHold;
  if (release > 0n) {
    const outcome = await postMovement(tx, { id: journalId('release-hold', e.orderId), kind: 'RELEASE_HOLD', ref: e.orderId, legs: [held(hold.user_id, e.orderId, hold.asset, -release), available(hold.user_id, hold.asset, release)] });
    // A match moved part of the hold between our read and the movement: start again with fresh numbers.
    if (outcome === 'INSUFFICIENT') throw new Error(`order ${e.orderId}: hold changed while releasing; retrying`);
  }
  await tx.query(`UPDATE order_holds SET status = 'RELEASED', released = $2::numeric, updated_at = now() WHERE order_id = $1`, [e.orderId, fromUnits(release, scale)]);
}

