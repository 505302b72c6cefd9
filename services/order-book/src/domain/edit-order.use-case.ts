import { randomUUID } from 'node:crypto';
import type { Tx } from '@orrange/db';
import { conflict, notFound, validationFailed } from '@orrange/http';
import type { Asset } from '@orrange/money';
import { adjustSellHoldCall, type FunctionCall } from '@orrange/queue';
import { editAndBump, editStandingStatement, lockAndLoadOrder, standingOf } from '../data/order.repository';
import { buyerLimitsOf, buyerRoom, tradesOpenMax } from './limits';
import { marketRefusal } from './market-rules';
import { matchBatch, type Placed } from './match-batch';
import { formatAmount, type Order } from './order';
import type { OrderBookDeps } from './order-book.deps';

/** What an owner may change of an open order (API.md PATCH /orders/:id); null clears an optional limit. */
export interface OrderPatch {
  price?: bigint;
  amount?: bigint;
  minFill?: bigint;
  minFiat?: bigint | null;
  maxFiat?: bigint | null;
  paymentMethods?: string[];
  paymentMethodIds?: string[];
  terms?: string | null;
  paymentWindowMinutes?: number;
  expiresAt?: Date | null;
}

/** Statuses whose orders an owner may edit, pause or resume: those in the book (paused ones included). */
const EDITABLE_STATUSES: readonly Order['status'][] = ['OPEN', 'PARTIALLY_FILLED'];

/**
 * The order after an owner's patch. The amount never goes below what was filled (the remainder follows it, and stays
 * positive); minFill stays within the amount, minFiat within maxFiat; only a SELL names saved payment methods.
 */
export function patched(before: Order, patch: OrderPatch): Order {
  const filled = before.amount - before.remaining;
  const amount = patch.amount ?? before.amount;
  if (amount <= filled)
    throw conflict(
      'ORDER.AMOUNT_BELOW_FILLED',
      `The amount must stay above what is filled already (${formatAmount(before.asset, filled)}).`,
    );
  const after: Order = {
    ...before,
    price: patch.price ?? before.price,
    amount,
    remaining: amount - filled,
    minFill: patch.minFill ?? before.minFill,
    minFiat: patch.minFiat === undefined ? before.minFiat : patch.minFiat,
    maxFiat: patch.maxFiat === undefined ? before.maxFiat : patch.maxFiat,
    paymentMethods: patch.paymentMethods ?? before.paymentMethods,
    paymentMethodIds: patch.paymentMethodIds ?? before.paymentMethodIds,
    terms: patch.terms === undefined ? before.terms : patch.terms,
    paymentWindowMinutes: patch.paymentWindowMinutes ?? before.paymentWindowMinutes,
    expiresAt: patch.expiresAt === undefined ? before.expiresAt : patch.expiresAt,
  };
  const errors = [
    ...(after.minFill > after.amount ? [{ path: 'minFill', message: 'must not exceed amount' }] : []),
    ...(after.minFiat !== null && after.maxFiat !== null && after.minFiat > after.maxFiat
      ? [{ path: 'minFiat', message: 'must not exceed maxFiat' }]
      : []),
    ...(after.side !== 'SELL' && after.paymentMethodIds.length > 0
      ? [{ path: 'paymentMethodIds', message: "only a SELL names the seller's saved payment methods" }]
      : []),
  ];
  if (errors.length > 0) throw validationFailed(errors);
  return after;
}

/**
 * The owner edits an open order: see `patched`; a new price loses time priority; a SELL's hold follows its remainder.
 * `patchFor` reads the request for the order's asset (amounts carry the asset's decimals).
 */
export function editOrder(
  deps: OrderBookDeps,
  userId: string,
  orderId: string,
  patchFor: (asset: Asset) => OrderPatch,
): Promise<Placed> {
  return changeOrder(deps, userId, orderId, (before) => {
    const patch = patchFor(before.asset);
    return { order: patched(before, patch), renewPriority: patch.price !== undefined && patch.price !== before.price };
  });
}

/** The owner takes an open order out of the book and of matching; a SELL keeps its hold. */
export function pauseOrder(deps: OrderBookDeps, userId: string, orderId: string): Promise<Placed> {
  return changeOrder(deps, userId, orderId, (before) => ({ order: { ...before, paused: true }, renewPriority: false }));
}

/** The owner puts a paused order back in the book, with time priority from now. */
export function resumeOrder(deps: OrderBookDeps, userId: string, orderId: string): Promise<Placed> {
  return changeOrder(deps, userId, orderId, (before) => ({
    order: { ...before, paused: false },
    renewPriority: before.paused,
  }));
}

/**
 * One owner's change of an open order, under the market lock and the order's row lock (a BUY's owner's standing read
 * as a placement reads it), so it is serialized with matching like a placement: the change and a SELL
 * hold's adjustment are written in one round trip; an order that is in the book afterwards (not paused) matches at
 * once against what it now crosses, as if it came in again (its buyer's room for trades respected), and the fills'
 * trades open in this transaction.
 */
async function changeOrder(
  deps: OrderBookDeps,
  userId: string,
  orderId: string,
  change: (before: Order) => { order: Order; renewPriority: boolean },
): Promise<Placed> {
  const result = await deps.db.transaction(
    async (tx) => {
      const locked = await lockAndLoadOrder(
        tx,
        orderId,
        [],
        [editStandingStatement(orderId, userId, deps.limits.buyerCancelsMax)],
      );
      const before = locked.order;
      if (!before || before.userId !== userId) throw notFound('ORDER.NOT_FOUND', 'No such order.');
      if (!EDITABLE_STATUSES.includes(before.status))
        throw conflict('ORDER.INVALID_STATE', `The order is ${before.status} and can no longer be changed.`);
      const { order, renewPriority } = change(before);
      const refusal =
        order.price !== before.price || order.amount !== before.amount
          ? marketRefusal(
              deps.markets.rulesFor(order.asset, order.fiatCurrency),
              order.asset,
              order.price,
              order.amount,
            )
          : undefined;
      if (refusal) throw refusal;
      const adjustment = holdAdjustment(before, order);
      const written = await editAndBump(tx, order, renewPriority, adjustment);
      if (adjustment) {
        const outcome = written.holdOutcome;
        if (outcome === 'INSUFFICIENT' && order.remaining > before.remaining)
          throw conflict('WALLET.INSUFFICIENT_FUNDS', 'Your available balance does not cover the larger amount.');
        if (outcome !== 'OK')
          throw new Error(`ledger invariant: the hold of order ${order.id} answered ${outcome} to its adjustment`);
      }
      const rooms = new Map(
        order.side === 'BUY'
          ? [[userId, buyerRoom(standingOf(locked.behind[0]!, userId), tradesOpenMax(deps.limits, order.merchant))]]
          : [],
      );
      const placed = written.order.paused
        ? { order: written.order, fills: [], sequence: written.sequence }
        : await matchAgain(tx, deps, written.order, rooms);
      return placed;
    },
    { retryable: true },
  );
  deps.bookChanged(result.order.asset, result.order.fiatCurrency, result.sequence);
  if (result.fills.length > 0) deps.tradesOpened(result.order.asset, result.fills.length);
  return { order: result.order, fills: result.fills };
}

/** The adjustment of a SELL's hold to its new remainder (a new edit id each time), or none when the remainder stays. */
function holdAdjustment(before: Order, after: Order): FunctionCall | undefined {
  if (before.side !== 'SELL' || after.remaining === before.remaining) return undefined;
  const delta = after.remaining - before.remaining;
  const sign = delta < 0n ? '-' : '';
  return adjustSellHoldCall({
    orderId: before.id,
    userId: before.userId,
    asset: before.asset,
    delta: `${sign}${formatAmount(before.asset, delta < 0n ? -delta : delta)}`,
    remaining: formatAmount(before.asset, after.remaining),
    editId: randomUUID(),
  });
}

/** Matches an order that is (again) in the book against what it crosses now, as an order written already. */
async function matchAgain(
  tx: Tx,
  deps: OrderBookDeps,
  order: Order,
  rooms: Map<string, number>,
): Promise<Placed & { sequence: bigint }> {
  const matched = await matchBatch(tx, [order], {
    marketLocked: true,
    incoming: 'continue',
    rooms,
    buyerLimits: buyerLimitsOf(deps.limits),
  });
  const [placed] = matched.placed;
  return { order: placed!.order, fills: placed!.fills, sequence: await matched.sequence };
}
