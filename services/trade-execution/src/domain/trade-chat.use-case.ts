import { randomUUID } from 'node:crypto';
import type { Database } from '@orrange/db';
import { z } from 'zod';
import { conflict, hasRole, keyset, notFound, readPage, type Identity, type Page } from '@orrange/http';
import { enqueueEvent } from '@orrange/queue';
import type { EncryptionKeyring } from '@orrange/secrets';
import { AS_SYSTEM, asUser } from '@orrange/db';
import { insertFeedback } from '../data/feedback.repository';
import { countMessages, insertMessage, listMessagesAfter } from '../data/trade-message.repository';
import { findTrade, lockTrade } from '../data/trade.repository';
import type { TradeMessage, TradeUpdates } from './trade';
import { OPEN_STATES } from './trade-state-machine';
import { canChat } from './trades.use-case';

/** What the chat needs: the database, the keyring that seals messages at rest, and who hears of a new message. */
export interface ChatDeps {
  db: Database;
  keyring: EncryptionKeyring;
  live?: TradeUpdates;
}

async function chatTrade(db: Database, tradeId: string, who: Identity) {
  const trade = await findTrade(db, tradeId);
  if (!trade || !canChat(trade, who)) throw notFound('TRADE.NOT_FOUND', 'No such trade.');
  return trade;
}

/**
 * Who a chat's rows are read and written as: its parties and its arbitrator as themselves, admins (whom canChat lets
 * into any trade's chat) as the system.
 */
const chatActor = (who: Identity) => (hasRole(who, 'admin') ? AS_SYSTEM : asUser(who.userId));

/** Chat in order of writing: a cursor carries the last sequence number seen. */
const chatOrder = keyset(z.object({ seq: z.string().regex(/^\d{1,19}$/) }).strict(), (m: TradeMessage) => ({
  seq: m.seq,
}));

export async function listMessages(
  deps: ChatDeps,
  tradeId: string,
  who: Identity,
  query: { limit: number; cursor?: string | undefined },
): Promise<Page<TradeMessage>> {
  await chatTrade(deps.db, tradeId, who);
  return readPage(chatOrder, query, (after, rowsMax) =>
    listMessagesAfter(deps.db.withSettings(chatActor(who)).primary, deps.keyring, tradeId, after?.seq ?? null, rowsMax),
  );
}

/** Messages one trade's chat holds at most (each ≤ 2,000 characters): a chat is for settling one trade. */
export const MESSAGES_PER_TRADE_MAX = 500;

/**
 * Writes in the chat of an open trade (AWAITING_PAYMENT, PAID, DISPUTED); a closed trade's chat is read-only,
 * and a full one refuses more. The trade row is locked while counting and writing, so neither racing writers
 * nor a transition closing the trade can slip a message past either rule. The message is stored sealed: chats
 * carry bank details.
 */
export async function postMessage(deps: ChatDeps, tradeId: string, who: Identity, body: string): Promise<TradeMessage> {
  const { message, recipients } = await deps.db.transaction(
    async (tx) => {
      const trade = await lockTrade(tx, tradeId);
      if (!trade || !canChat(trade, who)) throw notFound('TRADE.NOT_FOUND', 'No such trade.');
      if (!OPEN_STATES.includes(trade.status))
        throw conflict('TRADE.CHAT_CLOSED', `The trade is ${trade.status}: its chat is read-only.`);
      if ((await countMessages(tx, tradeId)) >= MESSAGES_PER_TRADE_MAX)
        throw conflict('TRADE.CHAT_LIMIT_REACHED', `A trade's chat holds at most ${MESSAGES_PER_TRADE_MAX} messages.`);
      const posted = await insertMessage(tx, deps.keyring, { id: randomUUID(), tradeId, senderId: who.userId, body });
      // Everyone who reads this chat hears of the message live: the parties and the assigned arbitrator.
      return {
        message: posted,
        recipients: [trade.buyerId, trade.sellerId, ...(trade.arbitratorId ? [trade.arbitratorId] : [])],
      };
    },
    { settings: chatActor(who) },
  );
  deps.live?.messagePosted(message, recipients);
  return message;
}

/** Feedback: a party, once, after COMPLETED; feeds the user service's reputation through feedback.left. */
export async function leaveFeedback(
  db: Database,
  tradeId: string,
  who: Identity,
  rating: 'POSITIVE' | 'NEGATIVE',
  comment: string | undefined,
) {
  return db.transaction(
    async (tx) => {
      const trade = await lockTrade(tx, tradeId);
      const party = trade && (who.userId === trade.buyerId || who.userId === trade.sellerId);
      if (!trade || !party) throw notFound('TRADE.NOT_FOUND', 'No such trade.');
      if (trade.status !== 'COMPLETED')
        throw conflict('TRADE.INVALID_STATE', 'Feedback is possible once the trade is COMPLETED.');
      const toUserId = who.userId === trade.buyerId ? trade.sellerId : trade.buyerId;
      const left = await insertFeedback(tx, {
        tradeId,
        fromUserId: who.userId,
        toUserId,
        rating,
        comment: comment ?? null,
      });
      if (!left) throw conflict('FEEDBACK.ALREADY_LEFT', 'You already left feedback on this trade.');
      await enqueueEvent(tx, 'feedback.left', { tradeId, fromUserId: who.userId, toUserId, rating });
      return {
        tradeId,
        fromUserId: who.userId,
        toUserId,
        rating,
        comment: comment ?? null,
        createdAt: left.createdAt,
      };
    },
    { retryable: true },
  );
}
