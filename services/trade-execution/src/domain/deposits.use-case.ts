import { randomUUID } from 'node:crypto';
import { asUser, type SqlRunner } from '@orrange/db';
import { ASSET_SCALES, toUnits, type Asset } from '@orrange/money';
import { AppError } from '@orrange/http';
import { CustodyRefused, CustodyUnavailable } from './custody-provider';
import {
  findDepositAddress,
  ownerOfAddress,
  markDepositCredited,
  saveDepositAddress,
  upsertCustodyDeposit,
} from '../data/deposit.repository';
import { postMovementOrFail } from '../data/ledger.repository';
import { isValidAddress, networkOf } from './addresses/addresses';
import type { CustodyDeps } from './custody';
import type { DepositEvent } from './custody-webhook';
import { available, external, journalId } from './ledger';

/** A signed custody event that cannot be applied: kept for operators and answered 422, nothing credited. */
export class RejectedCustodyEvent extends AppError {
  constructor(
    readonly reason: 'MALFORMED' | 'UNKNOWN_ADDRESS' | 'UNKNOWN_WITHDRAWAL' | 'CONFLICT',
    detail: string,
  ) {
    super(422, `CUSTODY.${reason}`, detail);
  }
}

const custodyUnavailable = () =>
  new AppError(503, 'CUSTODY.UNAVAILABLE', 'The custody provider did not give a deposit address. Try again later.');

/** The user's deposit address for an asset on the configured network: asked of custody once, then the stored one. */
export async function depositAddressFor(
  deps: Pick<CustodyDeps, 'db' | 'provider' | 'networks'>,
  userId: string,
  asset: Asset,
) {
  const network = networkOf(asset, deps.networks);
  const db = deps.db.withSettings(asUser(userId)).primary;
  const known = await findDepositAddress(db, userId, asset, network);
  if (known) return known;
  const address = await deps.provider.depositAddress(userId, asset, network).catch((error: unknown) => {
    if (error instanceof CustodyUnavailable || error instanceof CustodyRefused) throw custodyUnavailable();
    throw error;
  });
  // A provider's answer is checked like a user's input: an address we could not validate is no address to publish.
  if (!isValidAddress(asset, address, deps.networks)) throw custodyUnavailable();
  await saveDepositAddress(db, userId, { asset, network, address });
  const saved = await findDepositAddress(db, userId, asset, network);
  // Not saved: custody gave an address that another user already has. Publishing it would credit the wrong user.
  if (!saved) throw custodyUnavailable();
  return saved;
}

export type DepositOutcome = { status: 'CREDITED' | 'PENDING'; depositId: string; applied: boolean };

/**
 * A `deposit.confirmed` event: records the output once per (asset, txid, index) and credits it from EXTERNAL in
 * the same transaction as it reaches the asset's confirmations. However often and however concurrently the event
 * comes, one call moves PENDING → CREDITED and posts the journal (whose id is derived from the output too).
 */
export async function applyDepositEvent(
  deps: CustodyDeps,
  tx: SqlRunner,
  event: DepositEvent,
): Promise<DepositOutcome> {
  const network = networkOf(event.asset, deps.networks);
  const userId = await ownerOfAddress(tx, event.asset, network, event.address);
  if (!userId)
    throw new RejectedCustodyEvent(
      'UNKNOWN_ADDRESS',
      `No user has the ${event.asset} address ${event.address} on ${network}.`,
    );
  const units = toUnits(event.amount, ASSET_SCALES[event.asset]);
  const deposit = await upsertCustodyDeposit(tx, {
    id: randomUUID(),
    userId,
    asset: event.asset,
    amount: units,
    address: event.address,
    txid: event.txid,
    index: event.index,
    confirmations: event.confirmations,
  });
  if (
    deposit.userId !== userId ||
    deposit.amount !== units ||
    deposit.address?.toLowerCase() !== event.address.toLowerCase()
  ) {
    throw new RejectedCustodyEvent(
      'CONFLICT',
      `Output ${event.txid}:${event.index} was reported before with another amount or address.`,
    );
  }
  if (deposit.status === 'CREDITED') return { status: 'CREDITED', depositId: deposit.id, applied: false };
  if (!(await markDepositCredited(tx, deposit.id, deps.confirmations[event.asset])))
    return { status: 'PENDING', depositId: deposit.id, applied: false };
  await postMovementOrFail(tx, {
    id: journalId('custody-deposit', `${event.asset}:${event.txid}:${event.index}`),
    kind: 'DEPOSIT',
    ref: deposit.id,
    legs: [external(event.asset, -units), available(userId, event.asset, units)],
  });
  return { status: 'CREDITED', depositId: deposit.id, applied: true };
}
