import { z } from 'zod';
import { ASSET_SCALES, assetSchema, FIAT_SCALE, fiatSchema, isPositiveDecimal, type Asset } from '@orrange/money';
import { contractDecimal, contractId } from './contracts';

/**
 * The order path's synchronous contract with trade-execution: three SQL functions in trade-execution's schema,
 * written and tested there (its migration `order_path_functions`), that order-book calls inside its own
 * transaction, so that an order, its hold, its matches and their trades with the escrow locked commit together,
 * and a cancel with the release of its hold.
 * This file is the one place that knows their signatures. Their arguments are validated here before they go,
 * and the functions check them again (they run as their owner, whoever calls them).
 */
const TRADE_SCHEMA = 'trade';

const id = contractId;
const decimal = contractDecimal;

/** An amount must fit its asset's decimals: a finer one could never be settled exactly. */
const withinAssetScale = (value: { asset: Asset; amount: string }) =>
  isPositiveDecimal(value.amount, ASSET_SCALES[value.asset]);
const amountScaleIssue = { message: "amount must be positive and within the asset's decimals", path: ['amount'] };

/** A SELL order's hold: `amount` moves from the seller's AVAILABLE to HELD(order). */
export const sellHoldSchema = z
  .object({ orderId: id, userId: id, asset: assetSchema, amount: decimal })
  .strict()
  .refine(withinAssetScale, amountScaleIssue);
export type SellHold = z.infer<typeof sellHoldSchema>;

/**
 * One match, one trade: `amount` moves into ESCROW(trade) from the SELL order's hold (`HOLD`) or from the
 * seller's AVAILABLE (`AVAILABLE`: a seller who took a BUY ad directly), and the trade opens AWAITING_PAYMENT.
 */
export const tradeOpeningSchema = z
  .object({
    matchId: id,
    tradeId: id,
    buyOrderId: id.nullable(),
    sellOrderId: id.nullable(),
    buyerId: id,
    sellerId: id,
    asset: assetSchema,
    fiatCurrency: fiatSchema,
    price: decimal,
    amount: decimal,
    paymentMethod: z.string().min(1).max(64),
    paymentWindowMinutes: z.number().int().min(1).max(1440),
    sellerFunding: z.enum(['HOLD', 'AVAILABLE']),
    /** The SELL order's named saved payment methods (the seller's, in the user service): the trade's payment details come from them. */
    paymentMethodIds: z.array(z.string().uuid()).min(1).max(10).optional(),
    /**
     * The buyer's open-trade cap and cancels-within-24-h suspension threshold this match was decided with: open_trades
     * fails with 40001 when, with this transaction's trades counted, the buyer is past the cap or suspended (a trade or a
     * cancel in another market committed after the caller read the buyer's standing without a lock).
     */
    buyerTradesMax: z.number().int().min(0).max(1_000_000),
    buyerCancelsMax: z.number().int().min(0).max(20),
  })
  .strict()
  .refine(withinAssetScale, amountScaleIssue)
  .refine((o) => isPositiveDecimal(o.price, FIAT_SCALE), {
    message: 'price must be positive, in cents',
    path: ['price'],
  })
  .refine((o) => o.buyerId !== o.sellerId, { message: 'buyer and seller must differ', path: ['sellerId'] })
  .refine((o) => o.sellerFunding === 'AVAILABLE' || o.sellOrderId !== null, {
    message: 'a trade funded from a hold names its SELL order',
    path: ['sellOrderId'],
  });
export type TradeOpening = z.infer<typeof tradeOpeningSchema>;

/**
 * What each function answers per item, in order: OK (done), INSUFFICIENT (the source account cannot cover it:
 * nothing of it was written), DUPLICATE (done before: nothing written now).
 */
export type LedgerOutcome = 'OK' | 'INSUFFICIENT' | 'DUPLICATE';

export interface FunctionCall {
  sql: string;
  params: unknown[];
}

/**
 * The call that places the holds of SELL orders, in order (of two holds of one seller where only the first fits,
 * the first is placed). Its one row's `outcomes` is a LedgerOutcome per hold. Send it inside the transaction that
 * writes the orders, together with other statements where the executor can.
 */
export function placeSellHoldsCall(holds: SellHold[]): FunctionCall {
  return {
    sql: `SELECT ${TRADE_SCHEMA}.place_sell_holds($1::jsonb) AS outcomes`,
    params: [JSON.stringify(holds.map((h) => sellHoldSchema.parse(h)))],
  };
}

/** The parameter of placeSellHoldsExpression: every hold validated against the contract first. */
export function sellHoldsJson(holds: SellHold[]): string {
  return JSON.stringify(holds.map((h) => sellHoldSchema.parse(h)));
}

/**
 * The SQL expression that places the holds of the JSON array of SellHold `holdsExpression` (for a statement that
 * decides which orders are held, e.g. by their owners' open-order limits); it yields a LedgerOutcome per hold.
 * An empty or null array places nothing.
 */
export function placeSellHoldsExpression(holdsExpression: string): string {
  return `CASE WHEN coalesce(jsonb_array_length(${holdsExpression}), 0) = 0 THEN ARRAY[]::text[] ELSE ${TRADE_SCHEMA}.place_sell_holds(${holdsExpression}) END`;
}

/**
 * Buyers' standing for the abuse limits (trade-execution's buyer_standing): the set-returning SQL call
 * `buyer_standing(userIds text[], cancelsMax int)` → rows `(user_id, open_trades, suspended_until)` (suspended_until is
 * null unless `cancelsMax` cancelled or expired trades lie within 24 h); buyers without trades have no row. Read without
 * a lock: the limits are kept exactly by open_trades, against the cap each opening carries.
 */
export function buyerStandingCall(userIdsExpression: string, cancelsMaxExpression: string): string {
  return `${TRADE_SCHEMA}.buyer_standing(${userIdsExpression}, ${cancelsMaxExpression})`;
}

/** The SQL expression of how many more trades a buyer may open now: `buyer_room(userId, tradesMax, cancelsMax)` (0 while suspended). */
export function buyerRoomExpression(
  userIdExpression: string,
  tradesMaxExpression: string,
  cancelsMaxExpression: string,
): string {
  return `${TRADE_SCHEMA}.buyer_room(${userIdExpression}, ${tradesMaxExpression}, ${cancelsMaxExpression})`;
}

/**
 * The SQL expression (for a statement that also writes the matches) that opens the trades of matches, in order,
 * given the JSON array of TradeOpening at parameter `param`; it yields a LedgerOutcome per match. An empty array
 * opens nothing. Use tradeOpeningsJson for the parameter.
 */
export function openTradesExpression(param: string): string {
  return `CASE WHEN jsonb_array_length(${param}::jsonb) = 0 THEN ARRAY[]::text[] ELSE ${TRADE_SCHEMA}.open_trades(${param}::jsonb) END`;
}

/** The parameter of openTradesExpression: every opening validated against the contract first. */
export function tradeOpeningsJson(openings: TradeOpening[]): string {
  return JSON.stringify(openings.map((o) => tradeOpeningSchema.parse(o)));
}

/** A cancelled SELL order's hold: exactly its remainder goes back from HELD(order) to the seller's AVAILABLE. */
export const holdReleaseSchema = z
  .object({ orderId: id, userId: id, asset: assetSchema, remaining: decimal })
  .strict()
  .refine((r) => /^0(\.0+)?$/.test(r.remaining) || isPositiveDecimal(r.remaining, ASSET_SCALES[r.asset]), {
    message: "remaining must be within the asset's decimals",
    path: ['remaining'],
  });
export type HoldRelease = z.infer<typeof holdReleaseSchema>;

/**
 * The call that releases a cancelled SELL order's hold, in the transaction that cancels it (under the market
 * lock). Its one row's `outcome` is OK, or DUPLICATE when it was released before; a hold that is not exactly
 * the remainder fails the call (and so the cancel).
 */
export function releaseSellHoldCall(release: HoldRelease): FunctionCall {
  const r = holdReleaseSchema.parse(release);
  return {
    sql: `SELECT ${TRADE_SCHEMA}.release_sell_hold($1, $2, $3, $4::numeric) AS outcome`,
    params: [r.orderId, r.userId, r.asset, r.remaining],
  };
}

/** An edited SELL order's hold: `delta` more (or, negative, less) is held, so that it holds exactly `remaining`. */
export const holdAdjustmentSchema = z
  .object({
    orderId: id,
    userId: id,
    asset: assetSchema,
    delta: z.string().regex(/^-?\d{1,20}(\.\d{1,8})?$/),
    remaining: decimal,
    editId: z.string().uuid(),
  })
  .strict()
  .refine((a) => isPositiveDecimal(a.remaining, ASSET_SCALES[a.asset]), {
    message: "remaining must be positive and within the asset's decimals",
    path: ['remaining'],
  });
export type HoldAdjustment = z.infer<typeof holdAdjustmentSchema>;

/**
 * The call that makes an edited SELL order's hold follow its new remainder (trade-execution's adjust_sell_hold), in
 * the transaction that edits the order, under the market lock. Its one row's `outcome` is OK, INSUFFICIENT (the
 * seller's balance cannot cover an increase: nothing moved) or DUPLICATE (this edit moved its amount before).
 */
export function adjustSellHoldCall(adjustment: HoldAdjustment): FunctionCall {
  const a = holdAdjustmentSchema.parse(adjustment);
  return {
    sql: `SELECT ${TRADE_SCHEMA}.adjust_sell_hold($1, $2, $3, $4::numeric, $5::numeric, $6::uuid) AS outcome`,
    params: [a.orderId, a.userId, a.asset, a.delta, a.remaining, a.editId],
  };
}

/** Outcomes as the functions answered them, checked to be one per item: anything else is a broken contract. */
export function ledgerOutcomes(outcomes: unknown, expected: number, what: string): LedgerOutcome[] {
  const valid =
    Array.isArray(outcomes) &&
    outcomes.length === expected &&
    outcomes.every((o) => o === 'OK' || o === 'INSUFFICIENT' || o === 'DUPLICATE');
  if (!valid) throw new Error(`${what}: expected ${expected} ledger outcomes, got ${JSON.stringify(outcomes)}`);
  return outcomes as LedgerOutcome[];
}
