import { randomUUID } from 'node:crypto';
import type { Database } from '@orrange/db';
import { ASSET_SCALES, fromUnits, type Asset } from '@orrange/money';
import { insertFaucetDeposit } from '../data/deposit.repository';
import { postMovementOrFail } from '../data/ledger.repository';
import { available, external, journalId } from './ledger';

/** The faucet (development, or an admin's session in production): credits the caller's AVAILABLE from EXTERNAL at once. */
export async function deposit(db: Database, userId: string, asset: Asset, units: bigint) {
  const id = randomUUID();
  const amount = fromUnits(units, ASSET_SCALES[asset]);
  await db.transaction(
    async (tx) => {
      await postMovementOrFail(tx, {
        id: journalId('deposit', id),
        kind: 'DEPOSIT',
        ref: id,
        legs: [external(asset, -units), available(userId, asset, units)],
      });
      await insertFaucetDeposit(tx, id, userId, asset, amount);
    },
    { retryable: true },
  );
  return { id, asset, amount, status: 'CREDITED' as const };
}
