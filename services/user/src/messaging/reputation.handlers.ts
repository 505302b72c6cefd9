import type { Logger } from '@orrange/logger';
import type { EventHandlers } from '@orrange/queue';
import { incrementStats } from '../data/stats.repository';
import { isUuid } from '../data/sql';
import { disputeLoser } from '../domain/reputation';

/**
 * The reputation projection. Each handler runs inside the consumer's transaction together with the
 * inbox row, so a redelivered event changes nothing. Ids that cannot be ours (not UUIDs) are skipped
 * rather than retried forever.
 */
export function reputationHandlers(logger: Logger): EventHandlers {
  const ours = (ids: string[], type: string) => {
    const valid = ids.filter(isUuid);
    if (valid.length !== ids.length) logger.warn('event names a user id that is not a uuid; skipped', { type });
    return valid;
  };
  return {
    'trade.completed': async ({ payload }, tx) => {
      await incrementStats(tx, 'trades_completed', ours([payload.buyerId, payload.sellerId], 'trade.completed'));
    },
    // Both cancellation reasons (BUYER_CANCELLED, PAYMENT_TIMEOUT) are the buyer's doing: only the
    // buyer's completion rate pays for them.
    'trade.cancelled': async ({ payload }, tx) => {
      await incrementStats(tx, 'trades_cancelled', ours([payload.buyerId], 'trade.cancelled'));
    },
    'trade.resolved': async ({ payload }, tx) => {
      const loser = disputeLoser(payload.outcome, payload.buyerId, payload.sellerId);
      if (loser) await incrementStats(tx, 'disputes_lost', ours([loser], 'trade.resolved'));
    },
    'feedback.left': async ({ payload }, tx) => {
      await incrementStats(tx, payload.rating === 'POSITIVE' ? 'feedback_positive' : 'feedback_negative', ours([payload.toUserId], 'feedback.left'));
    },
  };
}
