import type { Logger } from '@orrange/logger';
import type { EventHandlers } from '@orrange/queue';
import type { FiatCurrency } from '@orrange/money';
import { incrementStats, recordCancelledTrade, recordCompletedTrade } from '../data/stats.repository';
import { isUuid } from '../data/sql';
import { countsForReputation, disputeLoser } from '../domain/reputation';

/**
 * The reputation projection. Each handler runs inside the consumer's transaction together with the
 * inbox row, so a redelivered event changes nothing. Ids that cannot be ours (not UUIDs) are skipped
 * rather than retried forever.
 */
export function reputationHandlers(
  logger: Logger,
  minFiat: ReadonlyMap<FiatCurrency, bigint> = new Map(),
): EventHandlers {
  const ours = (ids: string[], type: string) => {
    const valid = ids.filter(isUuid);
    if (valid.length !== ids.length) logger.warn('event names a user id that is not a uuid; skipped', { type });
    return valid;
  };
  return {
    // A trade below its currency's minimum counts for nobody: dust trades between two accounts farm nothing.
    'trade.completed': async ({ payload, occurredAt }, tx) => {
      const parties = ours([payload.buyerId, payload.sellerId], 'trade.completed');
      if (parties.length !== 2 || !countsForReputation(payload.fiatCurrency, payload.fiatAmount, minFiat)) return;
      const at = (iso: string | null | undefined) => (iso ? new Date(iso) : null);
      await recordCompletedTrade(tx, {
        buyerId: payload.buyerId,
        sellerId: payload.sellerId,
        completedAt: at(payload.completedAt) ?? new Date(occurredAt),
        openedAt: at(payload.openedAt),
        paidAt: at(payload.paidAt),
      });
    },
    // Both cancellation reasons (BUYER_CANCELLED, PAYMENT_TIMEOUT) are the buyer's doing: only the
    // buyer's completion rate pays for them.
    'trade.cancelled': async ({ payload, occurredAt }, tx) => {
      for (const buyerId of ours([payload.buyerId], 'trade.cancelled'))
        await recordCancelledTrade(tx, buyerId, new Date(occurredAt));
    },
    'trade.resolved': async ({ payload }, tx) => {
      const loser = disputeLoser(payload.outcome, payload.buyerId, payload.sellerId);
      if (loser) await incrementStats(tx, 'disputes_lost', ours([loser], 'trade.resolved'));
    },
    'feedback.left': async ({ payload }, tx) => {
      await incrementStats(
        tx,
        payload.rating === 'POSITIVE' ? 'feedback_positive' : 'feedback_negative',
        ours([payload.toUserId], 'feedback.left'),
      );
    },
  };
}
