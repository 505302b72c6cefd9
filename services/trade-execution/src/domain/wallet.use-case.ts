import { randomUUID } from 'node:crypto';
import { asUser, type Database } from '@orrange/db';
import type { Asset } from '@orrange/money';
import { insertFaucetDeposit } from '../data/deposit.repository';
import { postMovementOrFail } from '../data/ledger.repository';
import { available, external, journalId } from './ledger';

/**
 * The faucet (development, or an admin's session in production): credits the caller's AVAILABLE from EXTERNAL at once.
 * Returns the deposit's id.
 */
export async function deposit(db: Database, userId: string, asset: Asset, units: bigint): Promise<string> {
  const id = randomUUID();
  await db.transaction(
    async (tx) => {
      await postMovementOrFail(tx, {
        id: journalId('deposit', id),
        kind: 'DEPOSIT',
        ref: id,
        legs: [external(asset, -units), available(userId, asset, units)],
      });
      await insertFaucetDeposit(tx, id, userId, asset, units);
    },
    { retryable: true, settings: asUser(userId) },
  );
  return id;
}
