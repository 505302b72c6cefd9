import type { Asset } from '@orrange/money';

export const WITHDRAWAL_STATES = [
  'PENDING_REVIEW',
  'APPROVED',
  'BROADCAST',
  'CONFIRMED',
  'REJECTED',
  'CANCELLED',
  'FAILED',
] as const;
export type WithdrawalStatus = (typeof WITHDRAWAL_STATES)[number];
/** The states whose amount and fee sit in PENDING_WITHDRAWAL. */
export const OPEN_WITHDRAWAL_STATES: readonly WithdrawalStatus[] = ['PENDING_REVIEW', 'APPROVED', 'BROADCAST'];
/** The endings that give amount and fee back to the user (and so count for no daily limit). */
export const RETURNED_WITHDRAWAL_STATES: readonly WithdrawalStatus[] = ['REJECTED', 'CANCELLED', 'FAILED'];

/** A withdrawal as the domain sees it: amount and fee in the asset's minor units. */
export interface Withdrawal {
  id: string;
  userId: string;
  asset: Asset;
  amount: bigint;
  fee: bigint;
  address: string;
  network: string | null;
  status: WithdrawalStatus;
  txid: string | null;
  note: string | null;
  failureReason: string | null;
  reviewedBy: string | null;
  sendAttempts: number;
  lastSendError: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** One step of a withdrawal's history: who moved it from which state to which. */
export interface WithdrawalTransition {
  from: WithdrawalStatus | null;
  to: WithdrawalStatus;
  actor: string;
  note: string | null;
  at: Date;
}
