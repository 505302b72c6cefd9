import { fromUnits } from '@orrange/money';

/** Reputation counters as the user_stats projection keeps them. */
export interface StatsRow {
  tradesCompleted: number;
  tradesCancelled: number;
  disputesLost: number;
  feedbackPositive: number;
  feedbackNegative: number;
}

export interface PublicStats {
  tradesCompleted: number;
  /** completed / (completed + cancelled), a decimal string with 4 places ("0.9500"); null before any finished trade. */
  completionRate: string | null;
  disputesLost: number;
  feedbackPositive: number;
  feedbackNegative: number;
}

const RATE_PLACES = 4;
const RATE_SCALE = 10n ** BigInt(RATE_PLACES);

/** Completion rate in exact integer arithmetic, rounded down to 4 places. */
export function completionRate(completed: number, cancelled: number): string | null {
  const total = BigInt(completed) + BigInt(cancelled);
  if (total === 0n) return null;
  return fromUnits((BigInt(completed) * RATE_SCALE) / total, RATE_PLACES);
}

export function publicStats(row: StatsRow | undefined): PublicStats {
  const s = row ?? { tradesCompleted: 0, tradesCancelled: 0, disputesLost: 0, feedbackPositive: 0, feedbackNegative: 0 };
  return {
    tradesCompleted: s.tradesCompleted,
    completionRate: completionRate(s.tradesCompleted, s.tradesCancelled),
    disputesLost: s.disputesLost,
    feedbackPositive: s.feedbackPositive,
    feedbackNegative: s.feedbackNegative,
  };
}

/** Who lost a resolved dispute: the seller when the escrow went to the buyer, the buyer when refunded, nobody on a split. */
export function disputeLoser(outcome: 'RELEASE_TO_BUYER' | 'REFUND_SELLER' | 'SPLIT', buyerId: string, sellerId: string): string | null {
  if (outcome === 'RELEASE_TO_BUYER') return sellerId;
  if (outcome === 'REFUND_SELLER') return buyerId;
  return null;
}
