import type { Database } from '@orrange/db';
import type { Logger } from '@orrange/logger';
import type { Asset } from '@orrange/money';
import type { EventPayload, OutboxRow } from '@orrange/queue';
import { toEach, type LiveEvent, type LivePublisher } from '@orrange/runtime';
import { messageJson, tradeJson } from '../api/trade.view';
import { balanceView } from '../api/wallet.view';
import { asUser } from '@orrange/db';
import { balancesOf } from '../data/ledger.repository';
import { findTrade } from '../data/trade.repository';
import type { Trade, TradeMessage, TradeUpdates } from '../domain/trade';

/**
 * The live updates this service writes (API.md, "Live updates"; the gateway streams them): `trade.updated` to both
 * parties with the trade as GET /trades/:id answers it (never its paymentDetails), `trade.message` to everyone in
 * the chat, `balance.updated` with the balance as GET /wallet/balances lists it. All after the commit of the change,
 * never inside a transaction; none ever fails the use case that committed (a lost event is healed by the client's
 * resync, see the README).
 */
export class LiveUpdates implements TradeUpdates {
  constructor(private readonly deps: { db: Database; live: LivePublisher; logger: Logger }) {}

  /** A trade changed state: both parties hear it, and when escrow moved (the trade closed) their balances too. */
  async tradeChanged(trade: Trade): Promise<void> {
    const parties = [trade.buyerId, trade.sellerId];
    const events = toEach(parties, 'trade.updated', tradeJson(trade));
    if (trade.closedAt !== null) events.push(...(await this.balanceEvents(parties, trade.asset)));
    this.publish(events);
  }

  async tradeChangedById(tradeId: string): Promise<void> {
    const trade = await this.guard(() => findTrade(this.deps.db, tradeId));
    if (trade) await this.tradeChanged(trade);
  }

  messagePosted(message: TradeMessage, recipients: readonly string[]): void {
    this.publish(toEach(recipients, 'trade.message', messageJson(message)));
  }

  async balanceChanged(userId: string, asset: Asset): Promise<void> {
    this.publish(await this.balanceEvents([userId], asset));
  }

  /**
   * From the outbox relay's published batches. Trades are opened by open_trades in order-book's transactions: their `trade.created` events, once the outbox
   * relay published them, tell both parties. The event holds a subset of the trade's fields, named as in the REST
   * answer (id, matchId, buyerId, sellerId, asset, fiatCurrency, price, amount, fiatAmount, status); a client wanting
   * the rest (payment deadline, method) reads GET /trades/:id.
   */
  fromOutbox(rows: readonly OutboxRow[]): void {
    const events: LiveEvent[] = [];
    for (const row of rows) {
      // A dispute's resolution is applied by the event consumer, inside its transaction: once its trade.resolved is
      // published the transaction has committed, and the trade is read and announced whole, balances included.
      if (row.type === 'trade.resolved')
        void this.tradeChangedById((row.payload as EventPayload<'trade.resolved'>).tradeId);
      if (row.type !== 'trade.created') continue;
      const t = row.payload as EventPayload<'trade.created'>;
      const data = {
        id: t.tradeId,
        matchId: t.matchId,
        buyerId: t.buyerId,
        sellerId: t.sellerId,
        asset: t.asset,
        fiatCurrency: t.fiatCurrency,
        price: t.price,
        amount: t.amount,
        fiatAmount: t.fiatAmount,
        status: 'AWAITING_PAYMENT',
      };
      events.push(...toEach([t.buyerId, t.sellerId], 'trade.updated', data));
    }
    this.publish(events);
  }

  /** Each user's balance of `asset`, the users' reads side by side. */
  private async balanceEvents(userIds: readonly string[], asset: Asset): Promise<LiveEvent[]> {
    const events = await Promise.all(
      [...new Set(userIds)].map(async (userId): Promise<LiveEvent[]> => {
        const reader = this.deps.db.withSettings(asUser(userId)).primary;
        const balance = (await this.guard(() => balancesOf(reader, userId)))?.find((b) => b.asset === asset);
        return balance ? [{ userId, type: 'balance.updated', data: balanceView(balance) }] : [];
      }),
    );
    return events.flat();
  }

  private publish(events: LiveEvent[]): void {
    this.deps.live.publish(events);
  }

  /** A read for an event that fails is logged and skipped: the change it describes is committed already. */
  private async guard<T>(read: () => Promise<T>): Promise<T | undefined> {
    try {
      return await read();
    } catch (error) {
      this.deps.logger.warn('live update read failed', { error: (error as Error).message });
      return undefined;
    }
  }
}
