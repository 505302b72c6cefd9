import { randomUUID } from 'node:crypto';
import type { Database } from '@orrange/db';
import { conflict } from '@orrange/http';
import { ASSET_SCALES, fromUnits, type Asset } from '@orrange/money';
import { postMovement, postMovementOrFail } from '../data/ledger.repository';
import { available, external, journalId, pendingWithdrawal } from './ledger';

/** The faucet: credits the caller's AVAILABLE from EXTERNAL at once. */
export async function deposit(db: Database, userId: string, asset: Asset, units: bigint) {
  const id = randomUUID();
  const amount = fromUnits(units, ASSET_SCALES[asset]);
  await db.transaction(async (tx) => {
    await postMovementOrFail(tx, { id: journalId('deposit', id), kind: 'DEPOSIT', ref: id, legs: [external(asset, -units), available(userId, asset, units)] });
    await tx.query(`INSERT INTO deposits (id, user_id, asset, amount, status) VALUES ($1, $2, $3, $4, 'COMPLETED')`, [id, userId, asset, amount]);
  }, { retryable: true });
  return { id, asset, amount, status: 'COMPLETED' as const };
}

/** Debits AVAILABLE at once into PENDING_WITHDRAWAL; payout happens outside. 409 when not covered. */
export async function withdraw(db: Database, userId: string, asset: Asset, units: bigint, address: string) {
  const id = randomUUID();
  const amount = fromUnits(units, ASSET_SCALES[asset]);
  await db.transaction(async (tx) => {
    const outcome = await postMovement(tx, { id: journalId('withdrawal', id), kind: 'WITHDRAWAL', ref: id, legs: [available(userId, asset, -units), pendingWithdrawal(asset, units)] });
    if (outcome === 'INSUFFICIENT') throw conflict('WALLET.INSUFFICIENT_FUNDS', `Your available ${asset} balance does not cover ${amount}.`);
    if (outcome !== 'OK') throw new Error(`withdrawal ${id}: ${outcome}`);
    await tx.query(`INSERT INTO withdrawals (id, user_id, asset, amount, address, status) VALUES ($1, $2, $3, $4, $5, 'PENDING')`, [id, userId, asset, amount, address]);
  }, { retryable: true });
  return { id, status: 'PENDING' as const, asset, amount, address };
}
