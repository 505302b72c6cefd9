import type { Tx } from '@orrange/db';
import { unauthorized } from '@orrange/http';
import { AS_SYSTEM } from '@orrange/db';
import { keepRejectedEvent } from '../data/deposit.repository';
import { findWithdrawal } from '../data/withdrawal.repository';
import type { CustodyDeps } from './custody';
import { parseCustodyEvent, type WithdrawalEvent } from './custody-webhook';
import { applyDepositEvent, RejectedCustodyEvent } from './deposits.use-case';
import type { WithdrawalStatus } from './withdrawal';
import { transition } from './withdrawals.use-case';

export type WebhookAnswer =
  | { type: 'deposit.confirmed'; depositId: string; status: 'CREDITED' | 'PENDING'; applied: boolean }
  | { type: WithdrawalEvent['type']; withdrawalId: string; status: WithdrawalStatus; applied: boolean };

/** What each withdrawal event moves the withdrawal to, from which states, and where it counts as applied already. */
const WITHDRAWAL_EVENTS: Record<
  WithdrawalEvent['type'],
  { to: WithdrawalStatus; from: WithdrawalStatus[]; done: WithdrawalStatus[] }
> = {
  // Custody may report the broadcast before the sender recorded that custody took it (a crash in between).
  'withdrawal.broadcast': { to: 'BROADCAST', from: ['APPROVED'], done: ['BROADCAST', 'CONFIRMED'] },
  'withdrawal.confirmed': { to: 'CONFIRMED', from: ['APPROVED', 'BROADCAST'], done: ['CONFIRMED'] },
  'withdrawal.failed': { to: 'FAILED', from: ['APPROVED', 'BROADCAST'], done: ['FAILED'] },
};

/**
 * A custody webhook: the signature and its age checked first (401, nothing stored: anyone can post here), then
 * the event applied in one transaction. A signed event that cannot be applied (malformed, unknown address or
 * withdrawal, contradicting what is recorded) is kept for operators and answered 422; nothing is credited.
 * A repeated event is answered 200 with `applied: false`.
 */
export async function receiveCustodyWebhook(
  deps: CustodyDeps,
  rawBody: Buffer,
  signature: string | undefined,
): Promise<WebhookAnswer> {
  const check = deps.provider.verifyWebhook(rawBody, signature);
  if (check !== 'OK') {
    deps.metrics.webhookRejected(`signature_${check.toLowerCase()}`);
    throw unauthorized(
      check === 'STALE'
        ? 'The webhook signature is older than 5 minutes.'
        : 'The webhook signature is missing or does not match.',
      'CUSTODY.INVALID_SIGNATURE',
    );
  }
  const parsed = parseCustodyEvent(rawBody);
  try {
    if ('malformed' in parsed) throw new RejectedCustodyEvent('MALFORMED', `Not a custody event: ${parsed.malformed}`);
    const event = parsed.event;
    const answer = await deps.db.transaction(
      async (tx): Promise<WebhookAnswer> => {
        if (event.type === 'deposit.confirmed') {
          const outcome = await applyDepositEvent(deps, tx, event);
          if (outcome.applied) tx.afterCommit(() => deps.metrics.depositCredited(event.asset));
          return { type: event.type, ...outcome };
        }
        return applyWithdrawalEvent(deps, tx, event);
      },
      // Custody reports on any user's deposits and withdrawals.
      { retryable: true, settings: AS_SYSTEM },
    );
    deps.metrics.webhook(answer.applied ? 'applied' : answer.status === 'PENDING' ? 'pending' : 'duplicate');
    return answer;
  } catch (error) {
    if (!(error instanceof RejectedCustodyEvent)) throw error;
    await keepRejectedEvent(deps.db, {
      reason: error.reason,
      detail: error.detail,
      eventId: 'event' in parsed ? parsed.event.id : null,
      body: rawBody.toString('utf8'),
    });
    deps.metrics.webhookRejected(error.reason.toLowerCase());
    throw error;
  }
}

async function applyWithdrawalEvent(deps: CustodyDeps, tx: Tx, event: WithdrawalEvent): Promise<WebhookAnswer> {
  const rule = WITHDRAWAL_EVENTS[event.type];
  const change = {
    txid: event.txid ?? null,
    failureReason: event.type === 'withdrawal.failed' ? (event.reason ?? 'reported failed by custody') : null,
  };
  const moved = await transition(deps, tx, event.withdrawalId, rule.from, rule.to, { id: 'custody' }, change);
  if (moved) return { type: event.type, withdrawalId: moved.id, status: moved.status, applied: true };
  const current = await findWithdrawal(tx, event.withdrawalId);
  if (!current) throw new RejectedCustodyEvent('UNKNOWN_WITHDRAWAL', `No withdrawal ${event.withdrawalId}.`);
  if (rule.done.includes(current.status))
    return { type: event.type, withdrawalId: current.id, status: current.status, applied: false };
  // E.g. confirmed after failed (the funds went back already), or any report on a withdrawal never sent.
  throw new RejectedCustodyEvent('CONFLICT', `${event.type} does not apply to a ${current.status} withdrawal.`);
}
