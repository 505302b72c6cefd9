import { randomUUID } from 'node:crypto';
import { badRequest, conflict, notFound } from '@orrange/http';
import { ASSET_SCALES, fromUnits, type Asset } from '@orrange/money';
import type { Tx } from '@orrange/db';
import { enqueueEvent } from '@orrange/queue';
import { AS_SYSTEM, asUser } from '@orrange/db';
import { postMovement, postMovementOrFail } from '../data/ledger.repository';
import {
  claimSend,
  findWithdrawal,
  insertWithdrawal,
  lockWithdrawalsOf,
  markSubmitted,
  parkSend,
  recordTransition,
  transitionWithdrawal,
  withdrawnInLastDay,
  type TransitionChange,
} from '../data/withdrawal.repository';
import { isValidAddress, networkOf } from './addresses/addresses';
import type { CustodyDeps } from './custody';
import { CustodyRefused } from './custody-provider';
import { available, external, fees, journalId, pendingWithdrawal, type Leg } from './ledger';
import { RETURNED_WITHDRAWAL_STATES, type Withdrawal, type WithdrawalStatus } from './withdrawal';

/** The movement that gives amount and fee back to the user: one per withdrawal, whichever ending caused it. */
function returnMovement(w: Withdrawal) {
  const { amount, fee } = w;
  return {
    id: journalId('withdrawal-return', w.id),
    kind: 'WITHDRAWAL_RETURN',
    ref: w.id,
    legs: [pendingWithdrawal(w.asset, -(amount + fee)), available(w.userId, w.asset, amount + fee)],
  };
}

/** The movement of a confirmed withdrawal: the amount leaves to EXTERNAL, the fee goes to FEES. */
function payoutMovement(w: Withdrawal) {
  const { amount, fee } = w;
  const legs: Leg[] = [pendingWithdrawal(w.asset, -(amount + fee)), external(w.asset, amount)];
  if (fee > 0n) legs.push(fees(w.asset, fee));
  return { id: journalId('withdrawal-payout', w.id), kind: 'WITHDRAWAL_PAYOUT', ref: w.id, legs };
}

export interface Actor {
  /** A user id, an admin's id, `auto` (auto-approval) or `custody` (webhooks). */
  id: string;
  requestId?: string | null;
}

/**
 * A guarded transition and what it moves, in one transaction: the status changes only from `from`, the
 * transition is recorded with its actor, and a return or payout is posted with it. Undefined when the
 * withdrawal was not in `from` (another transition won, or it is not the caller's).
 */
export async function transition(
  deps: CustodyDeps,
  tx: Tx,
  id: string,
  from: readonly WithdrawalStatus[],
  to: WithdrawalStatus,
  actor: Actor,
  change: TransitionChange = {},
  userId?: string,
): Promise<Withdrawal | undefined> {
  const moved = await transitionWithdrawal(tx, id, from, to, change, userId);
  if (!moved) return undefined;
  const { withdrawal: after, from: before } = moved;
  if (RETURNED_WITHDRAWAL_STATES.includes(to)) await postMovementOrFail(tx, returnMovement(after));
  if (to === 'CONFIRMED') await postMovementOrFail(tx, payoutMovement(after));
  await recordTransition(tx, {
    withdrawalId: id,
    from: before,
    to,
    actor: actor.id,
    note: change.note ?? change.failureReason ?? null,
    requestId: actor.requestId,
  });
  tx.afterCommit(() => deps.metrics.withdrawalTransition(to));
  return after;
}

/**
 * A user's withdrawal: the address checked for the asset and network, the daily limit checked under a lock of
 * the user's withdrawals of that asset, amount + fee moved from AVAILABLE to PENDING_WITHDRAWAL, and the
 * withdrawal APPROVED at once up to the auto-approval amount, else PENDING_REVIEW for an admin.
 */
export async function requestWithdrawal(
  deps: CustodyDeps,
  userId: string,
  asset: Asset,
  units: bigint,
  address: string,
  requestId: string | null,
): Promise<Withdrawal> {
  if (!isValidAddress(asset, address, deps.networks)) {
    throw badRequest('WALLET.INVALID_ADDRESS', `Not a valid ${asset} address on ${networkOf(asset, deps.networks)}.`, [
      { path: 'address', message: 'invalid address or checksum' },
    ]);
  }
  const scale = ASSET_SCALES[asset];
  const fee = deps.withdrawalFees[asset];
  const id = randomUUID();
  const status = units <= deps.autoApproveMax[asset] ? 'APPROVED' : 'PENDING_REVIEW';
  return deps.db.transaction(
    async (tx) => {
      await lockWithdrawalsOf(tx, userId, asset);
      const withdrawn = await withdrawnInLastDay(tx, userId, asset);
      if (withdrawn + units > deps.dailyMax[asset]) {
        throw conflict(
          'WALLET.WITHDRAWAL_LIMIT',
          `This would pass your daily ${asset} withdrawal limit of ${fromUnits(deps.dailyMax[asset], scale)} (withdrawn in the last 24 h: ${fromUnits(withdrawn, scale)}).`,
        );
      }
      const outcome = await postMovement(tx, {
        id: journalId('withdrawal', id),
        kind: 'WITHDRAWAL',
        ref: id,
        legs: [available(userId, asset, -(units + fee)), pendingWithdrawal(asset, units + fee)],
      });
      if (outcome === 'INSUFFICIENT')
        throw conflict(
          'WALLET.INSUFFICIENT_FUNDS',
          `Your available ${asset} balance does not cover ${fromUnits(units, scale)} plus the fee of ${fromUnits(fee, scale)}.`,
        );
      if (outcome !== 'OK') throw new Error(`withdrawal ${id}: ${outcome}`);
      const withdrawal = await insertWithdrawal(tx, {
        id,
        userId,
        asset,
        amount: units,
        fee,
        address,
        network: networkOf(asset, deps.networks),
        status,
      });
      await recordTransition(tx, { withdrawalId: id, from: null, to: 'PENDING_REVIEW', actor: userId, requestId });
      if (status === 'APPROVED')
        await recordTransition(tx, {
          withdrawalId: id,
          from: 'PENDING_REVIEW',
          to: 'APPROVED',
          actor: 'auto',
          note: 'within WITHDRAWAL_AUTO_APPROVE_MAX',
          requestId,
        });
      tx.afterCommit(() => deps.metrics.withdrawalTransition(status));
      return withdrawal;
    },
    { retryable: true, settings: asUser(userId) },
  );
}

/**
 * 404 for a withdrawal that is not there (or not the caller's), 409 for one past the state the action needs. Without
 * a user, for an admin's review: as the system.
 */
async function explainRefusal(deps: CustodyDeps, id: string, action: string, userId?: string): Promise<never> {
  const current = await findWithdrawal(
    deps.db.withSettings(userId === undefined ? AS_SYSTEM : asUser(userId)).primary,
    id,
  );
  if (!current || (userId !== undefined && current.userId !== userId))
    throw notFound('WITHDRAWAL.NOT_FOUND', 'No such withdrawal.');
  throw conflict('WITHDRAWAL.INVALID_STATE', `A ${current.status} withdrawal cannot be ${action}.`);
}

/** The user takes back a withdrawal still waiting for review: CANCELLED, amount and fee back to AVAILABLE. */
export async function cancelWithdrawal(
  deps: CustodyDeps,
  userId: string,
  id: string,
  requestId: string | null,
): Promise<Withdrawal> {
  const done = await deps.db.transaction(
    (tx) => transition(deps, tx, id, ['PENDING_REVIEW'], 'CANCELLED', { id: userId, requestId }, {}, userId),
    { retryable: true, settings: asUser(userId) },
  );
  return done ?? explainRefusal(deps, id, 'cancelled', userId);
}

/** An admin's decision on a withdrawal waiting for review: APPROVED (sent to custody next) or REJECTED (funds back). */
export async function reviewWithdrawal(
  deps: CustodyDeps,
  adminId: string,
  id: string,
  decision: 'APPROVED' | 'REJECTED',
  note: string | undefined,
  requestId: string | null,
): Promise<Withdrawal> {
  const change: TransitionChange = { reviewedBy: adminId, note: note ?? null, scheduleSend: decision === 'APPROVED' };
  const done = await deps.db.transaction(
    async (tx) => {
      const reviewed = await transition(deps, tx, id, ['PENDING_REVIEW'], decision, { id: adminId, requestId }, change);
      // The decision joins the platform's audit log (the user service's) through the outbox, with the transition.
      if (reviewed)
        await enqueueEvent(tx, 'withdrawal.reviewed', {
          withdrawalId: id,
          userId: reviewed.userId,
          asset: reviewed.asset,
          amount: fromUnits(reviewed.amount, ASSET_SCALES[reviewed.asset]),
          decision,
          reviewedBy: adminId,
          note: note ?? null,
          requestId,
        });
      return reviewed;
    },
    // An admin decides on any user's withdrawal.
    { retryable: true, settings: AS_SYSTEM },
  );
  return done ?? explainRefusal(deps, id, decision === 'APPROVED' ? 'approved' : 'rejected');
}

/** Beyond the call's own time, how long a claimed send is left alone (the claim outlives a slow process, not a dead one by much). */
const SEND_CLAIM_MARGIN_MS = 5_000;

/**
 * How long a claimed send is left alone by other sweeps: every attempt of the call timing out, plus the backoff
 * between them (at most 250 ms × 2^attempts), plus a margin. A sender killed mid-send delays that withdrawal by this.
 */
export function sendClaimMs(timeoutMs: number, attempts: number): number {
  return attempts * timeoutMs + 250 * 2 ** attempts + SEND_CLAIM_MARGIN_MS;
}

/** Between sends of a parked withdrawal: 5 s, 10 s, 20 s … at most 10 minutes. */
export function sendRetryDelayMs(attempts: number): number {
  return Math.min(5_000 * 2 ** Math.max(0, attempts - 1), 600_000);
}

/**
 * Sends one due approved withdrawal to custody. The attempt is claimed (and counted) in its own statement first,
 * so replicas never send it at the same time; custody dedups by withdrawal id, so a send repeated after a crash
 * before `markSubmitted` is the same send. A refusal fails the withdrawal and returns the funds in one
 * transaction; an unknown outcome parks it for a later attempt. True when custody took it.
 */
export async function sendWithdrawal(deps: CustodyDeps, id: string, claimMs: number): Promise<boolean> {
  // The sender works through every user's approved withdrawals.
  const system = deps.db.withSettings(AS_SYSTEM).primary;
  const withdrawal = await claimSend(system, id, claimMs);
  if (!withdrawal) return false;
  try {
    await deps.provider.sendWithdrawal({
      id: withdrawal.id,
      asset: withdrawal.asset,
      amount: fromUnits(withdrawal.amount, ASSET_SCALES[withdrawal.asset]),
      address: withdrawal.address,
      network: withdrawal.network ?? networkOf(withdrawal.asset, deps.networks),
    });
  } catch (error) {
    if (error instanceof CustodyRefused) {
      await deps.db.transaction(
        (tx) => transition(deps, tx, id, ['APPROVED'], 'FAILED', { id: 'custody' }, { failureReason: error.message }),
        { retryable: true, settings: AS_SYSTEM },
      );
      return false;
    }
    await parkSend(
      system,
      id,
      sendRetryDelayMs(withdrawal.sendAttempts),
      error instanceof Error ? error.message : String(error),
    );
    throw error;
  }
  await markSubmitted(system, id);
  return true;
}
