import type { Tx } from '@orrange/db';
import type { Asset, FiatCurrency } from '@orrange/money';
import type { SqlExecutor } from '@orrange/queue';
import { bumpSequence, lockMarketOfMatch, lockMarketsAndLoadPending, rejectMatch, restoreRemainders, transitionOrder } from '../data/order.repository';
import { matchBatch } from './match-batch';
import type { Order } from './order';
import type { OrderBookDeps } from './order-book.deps';

/**
 * Reactions to trade-execution, each inside the consumer's transaction (with its inbox row), each a no-op
 * when it no longer applies: events may come twice, late, or after the owner cancelled. The events they write
 * need no kick of the relay here: the consumer kicks it once the transaction has committed. A changed book is
 * announced after the commit too: announced before, the cache's refresh would read the old book, and read again.
 */
type ConsumerTx = SqlExecutor & Pick<Tx, 'afterCommit'>;

/**
 * The SELL orders' holds are in place (in event order): open them and match them now. One round trip takes
 * the locks of all their markets and, once they are granted, loads those still PENDING_FUNDS (a cancelled
 * order, or one an earlier delivery opened, is left alone); then each market matches its orders in event
 * order against one candidate read and one write, each order getting exactly what it would get alone after
 * the ones before it.
 * Returns how many orders were opened.
 */
export async function openFundedOrders(deps: OrderBookDeps, tx: ConsumerTx, orderIds: string[]): Promise<number> {
  const ids = [...new Set(orderIds)];
  const pending = new Map((await lockMarketsAndLoadPending(tx, ids)).map((o) => [o.id, o]));
  const funded = ids.flatMap((id) => pending.get(id) ?? []);
  const opened: MarketOpened[] = [];
  for (const orders of byMarket(funded)) opened.push(await openInMarket(tx, orders));
  tx.afterCommit(() => opened.forEach((market) => deps.bookChanged(market.asset, market.fiatCurrency, market.sequence)));
  return funded.length;
}

interface MarketOpened {
  asset: Asset;
  fiatCurrency: FiatCurrency;
  sequence: bigint;
}

/**
 * Opens funded SELL orders of one market. Usually one batch decides them all; in a book deeper than one
 * candidate read, the ones it could not decide go again, on a fresh read that sees what the first wrote.
 */
async function openInMarket(tx: SqlExecutor, orders: Order[]): Promise<MarketOpened> {
  const { asset, fiatCurrency } = orders[0]!;
  let sequence = 0n;
  for (let left = orders; left.length > 0; ) {
    const matched = await matchBatch(tx, left, 'open', true);
    left = left.slice(matched.placed.length);
    sequence = matched.sequence;
  }
  return { asset, fiatCurrency, sequence };
}

/** Orders grouped by market, each group in the given order. */
function byMarket(orders: Order[]): Order[][] {
  const markets = new Map<string, Order[]>();
  for (const order of orders) {
    const key = `${order.asset}/${order.fiatCurrency}`;
    const market = markets.get(key) ?? [];
    market.push(order);
    markets.set(key, market);
  }
  return [...markets.values()];
}

/** The SELL order could not be covered: it never enters the book. */
export async function rejectUnfundedOrder(tx: SqlExecutor, orderId: string, reason: string): Promise<boolean> {
  return (await transitionOrder(tx, orderId, ['PENDING_FUNDS'], 'REJECTED', reason)) !== undefined;
}

/**
 * A match could not be funded: its orders get the amount back (once: the match row turns REJECTED), under
 * the market lock. Cancelled orders stay cancelled.
 */
export async function restoreRejectedMatch(deps: OrderBookDeps, tx: ConsumerTx, matchId: string): Promise<boolean> {
  if (!(await lockMarketOfMatch(tx, matchId))) return false;
  const match = await rejectMatch(tx, matchId);
  if (!match) return false;
  await restoreRemainders(tx, match.orderIds, match.amount);
  const sequence = await bumpSequence(tx, match.asset, match.fiatCurrency);
  tx.afterCommit(() => deps.bookChanged(match.asset, match.fiatCurrency, sequence));
  return true;
}
