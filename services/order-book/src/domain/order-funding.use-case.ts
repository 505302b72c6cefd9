import type { SqlExecutor } from '@orrange/queue';
import { bumpSequence, findOrder, lockMarketOfMatch, lockMarketOfOrder, rejectMatch, restoreRemainders, transitionOrder } from '../data/order.repository';
import type { OrderBookDeps } from './order-book.deps';
import { afterMatching, matchIncoming } from './place-order.use-case';

/**
 * Reactions to trade-execution, each inside the consumer's transaction (with its inbox row), each a no-op
 * when it no longer applies: events may come twice, late, or after the owner cancelled.
 */

/** The SELL order's hold is in place: open it and match it now. */
export async function openFundedOrder(deps: OrderBookDeps, tx: SqlExecutor, orderId: string): Promise<boolean> {
  if (!(await lockMarketOfOrder(tx, orderId))) return false;
  const order = await findOrder(tx, orderId, true);
  if (!order || order.status !== 'PENDING_FUNDS') return false;
  const matched = await matchIncoming(tx, { ...order, status: 'OPEN' }, true);
  afterMatching(deps, matched);
  return true;
}

/** The SELL order could not be covered: it never enters the book. */
export async function rejectUnfundedOrder(tx: SqlExecutor, orderId: string, reason: string): Promise<boolean> {
  return (await transitionOrder(tx, orderId, ['PENDING_FUNDS'], 'REJECTED', reason)) !== undefined;
}

/**
 * A match could not be funded: its orders get the amount back (once: the match row turns REJECTED), under
 * the market lock. Cancelled orders stay cancelled.
 */
export async function restoreRejectedMatch(deps: OrderBookDeps, tx: SqlExecutor, matchId: string): Promise<boolean> {
  if (!(await lockMarketOfMatch(tx, matchId))) return false;
  const match = await rejectMatch(tx, matchId);
  if (!match) return false;
  await restoreRemainders(tx, match.orderIds, match.amount);
  deps.bookChanged(match.asset, match.fiatCurrency, await bumpSequence(tx, match.asset, match.fiatCurrency));
  return true;
}
