import { z } from 'zod';
import { keyset, pageFields } from '@orrange/http';
import { ASSET_SCALES, assetSchema, isPositiveDecimal, type Asset } from '@orrange/money';
import { TRADE_STATES } from '../domain/trade-state-machine';
import { WITHDRAWAL_STATES } from '../domain/withdrawal';
import type { LedgerLine } from '../domain/ledger';
import type { Trade } from '../domain/trade';

const MAX_DECIMAL_LENGTH = 40;

/** Checks `amount` at the asset's scale: positive, no exponent, no sign, no extra decimals. */
function amountAtAssetScale(value: { asset: Asset; amount: string }, ctx: z.RefinementCtx): void {
  const scale = ASSET_SCALES[value.asset];
  if (!isPositiveDecimal(value.amount, scale)) {
    ctx.addIssue({
      code: 'custom',
      path: ['amount'],
      message: `must be a positive decimal string with at most ${scale} decimals`,
    });
  }
}

const amount = z.string().max(MAX_DECIMAL_LENGTH);
export const depositBody = z.object({ asset: assetSchema, amount }).strict().superRefine(amountAtAssetScale);
// Addresses are taken as sent (no trimming): a checksum is over exactly these characters.
export const withdrawalBody = z
  .object({ asset: assetSchema, amount, address: z.string().min(1).max(128) })
  .strict()
  .superRefine(amountAtAssetScale);
export const reviewBody = z.object({ note: z.string().trim().min(1).max(1000).optional() }).strict();
export const depositAddressQuery = z.object({ asset: assetSchema }).strict();
export const withdrawalIdParam = z.object({ id: z.string().uuid() }).strict();
export const disputeBody = z.object({ reason: z.string().trim().min(1).max(2000) }).strict();
export const messageBody = z.object({ body: z.string().trim().min(1).max(2000) }).strict();
export const feedbackBody = z
  .object({ rating: z.enum(['POSITIVE', 'NEGATIVE']), comment: z.string().max(1000).optional() })
  .strict();
export const emptyBody = z.object({}).strict();

export const tradesQuery = z.object({ ...pageFields, status: z.enum(TRADE_STATES).optional() }).strict();
export const adminWithdrawalsQuery = z.object({ ...pageFields, status: z.enum(WITHDRAWAL_STATES).optional() }).strict();
/** The lists ordered newest first by (createdAt, id): deposits and withdrawals. */
export const newestFirst = keyset(
  z.object({ at: z.string().datetime(), id: z.string().uuid() }).strict(),
  (row: { createdAt: Date; id: string }) => ({ at: row.createdAt.toISOString(), id: row.id }),
);
/** A user's trades, newest first by (createdAt, id). */
export const tradeKeys = keyset(z.object({ t: z.iso.datetime(), id: z.string().max(64) }).strict(), (trade: Trade) => ({
  t: trade.createdAt.toISOString(),
  id: trade.id,
}));
/** A user's ledger entries, newest first by id. */
export const ledgerKeys = keyset(z.object({ id: z.string().regex(/^\d{1,19}$/) }).strict(), (row: LedgerLine) => ({
  id: row.id,
}));
export const tradeIdParam = z.object({ id: z.string().min(1).max(64) }).strict();

export { pageQuery } from '@orrange/http';
