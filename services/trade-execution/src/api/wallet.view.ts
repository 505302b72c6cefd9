import { ASSET_SCALES, fromUnits, type Asset } from '@orrange/money';
import type { Deposit } from '../domain/deposit';
import type { Balance, LedgerLine } from '../domain/ledger';
import type { Withdrawal, WithdrawalTransition } from '../domain/withdrawal';

/** Minor units of an asset as API.md writes amounts: a decimal string at the asset's scale. */
export const decimal = (asset: Asset, units: bigint) => fromUnits(units, ASSET_SCALES[asset]);

/** A balance as GET /wallet/balances lists it and balance.updated carries it. */
export function balanceView(b: Balance) {
  return {
    asset: b.asset,
    available: decimal(b.asset, b.available),
    held: decimal(b.asset, b.held),
    inEscrow: decimal(b.asset, b.inEscrow),
  };
}

/** An entry as GET /wallet/ledger lists it. */
export function ledgerLineView(line: LedgerLine) {
  return { ...line, amount: decimal(line.asset, line.amount), createdAt: line.createdAt.toISOString() };
}

/** A deposit as GET /wallet/deposits lists it. */
export function depositView(d: Deposit) {
  return {
    id: d.id,
    asset: d.asset,
    amount: decimal(d.asset, d.amount),
    address: d.address,
    txid: d.txid,
    index: d.index,
    confirmations: d.confirmations,
    status: d.status,
    createdAt: d.createdAt.toISOString(),
  };
}

/** What a client sees of a withdrawal (API.md's `withdrawal`, plus why it failed and the reviewer's note). */
export function withdrawalView(w: Withdrawal) {
  return {
    id: w.id,
    asset: w.asset,
    amount: decimal(w.asset, w.amount),
    fee: decimal(w.asset, w.fee),
    address: w.address,
    network: w.network,
    status: w.status,
    txid: w.txid,
    note: w.note,
    failureReason: w.failureReason,
    createdAt: w.createdAt.toISOString(),
    updatedAt: w.updatedAt.toISOString(),
  };
}

/** What an admin sees: also whose it is, who reviewed it, and how sending to custody went. */
export function adminWithdrawalView(w: Withdrawal) {
  return {
    ...withdrawalView(w),
    userId: w.userId,
    reviewedBy: w.reviewedBy,
    sendAttempts: w.sendAttempts,
    lastSendError: w.lastSendError,
  };
}

export function transitionView(t: WithdrawalTransition) {
  return { ...t, at: t.at.toISOString() };
}
