import { FIAT_SCALE, fromUnits, isPositiveDecimal, toUnits, type FiatCurrency } from '@orrange/money';

/** Reputation counters as the user_stats projection keeps them (and the last 30 days of user_trade_days). */
export interface StatsRow {
  tradesCompleted: number;
  tradesCancelled: number;
  disputesLost: number;
  feedbackPositive: number;
  feedbackNegative: number;
  distinctCounterparties: number;
  paySecondsSum: number;
  paysCounted: number;
  releaseSecondsSum: number;
  releasesCounted: number;
  completed30d: number;
  cancelled30d: number;
}

export interface PublicStats {
  tradesCompleted: number;
  /** completed / (completed + cancelled), a decimal string with 4 places ("0.9500"); null before any finished trade. */
  completionRate: string | null;
  disputesLost: number;
  feedbackPositive: number;
  feedbackNegative: number;
  /** How many different users this one completed a trade with (trades that count only). */
  distinctCounterparties: number;
  /** Average whole seconds from a trade's opening to the buyer marking it paid (as buyer); null before any. */
  avgPaySeconds: number | null;
  /** Average whole seconds from paid to released (as seller); null before any. */
  avgReleaseSeconds: number | null;
  /** The completion rate of the last 30 days. */
  completionRate30d: string | null;
}

/** Whether a completed trade's fiat value reaches its currency's minimum for reputation (none set: it does). */
export function countsForReputation(
  fiatCurrency: FiatCurrency,
  fiatAmount: string,
  minFiat: ReadonlyMap<FiatCurrency, bigint>,
): boolean {
  const minimum = minFiat.get(fiatCurrency);
  if (minimum === undefined) return true;
  return isPositiveDecimal(fiatAmount, FIAT_SCALE) && toUnits(fiatAmount, FIAT_SCALE) >= minimum;
}

const average = (sum: number, count: number) => (count > 0 ? Math.floor(sum / count) : null);

const RATE_PLACES = 4;
const RATE_SCALE = 10n ** BigInt(RATE_PLACES);

/** Completion rate in exact integer arithmetic, rounded down to 4 places. */
export function completionRate(completed: number, cancelled: number): string | null {
  const total = BigInt(completed) + BigInt(cancelled);
  if (total === 0n) return null;
  return fromUnits((BigInt(completed) * RATE_SCALE) / total, RATE_PLACES);
}

/** A user without a stats row: nothing counted yet. */
const NO_STATS: StatsRow = {
  tradesCompleted: 0,
  tradesCancelled: 0,
  disputesLost: 0,
  feedbackPositive: 0,
  feedbackNegative: 0,
  distinctCounterparties: 0,
  paySecondsSum: 0,
  paysCounted: 0,
  releaseSecondsSum: 0,
  releasesCounted: 0,
  completed30d: 0,
  cancelled30d: 0,
};

export function publicStats(row: StatsRow | undefined): PublicStats {
  const s = row ?? NO_STATS;
  return {
    tradesCompleted: s.tradesCompleted,
    completionRate: completionRate(s.tradesCompleted, s.tradesCancelled),
    disputesLost: s.disputesLost,
    feedbackPositive: s.feedbackPositive,
    feedbackNegative: s.feedbackNegative,
    distinctCounterparties: s.distinctCounterparties,
    avgPaySeconds: average(s.paySecondsSum, s.paysCounted),
    avgReleaseSeconds: average(s.releaseSecondsSum, s.releasesCounted),
    completionRate30d: completionRate(s.completed30d, s.cancelled30d),
  };
}

/** Who lost a resolved dispute: the seller when the escrow went to the buyer, the buyer when refunded, nobody on a split. */
export function disputeLoser(
  outcome: 'RELEASE_TO_BUYER' | 'REFUND_SELLER' | 'SPLIT',
  buyerId: string,
  sellerId: string,
): string | null {
  if (outcome === 'RELEASE_TO_BUYER') return sellerId;
  if (outcome === 'REFUND_SELLER') return buyerId;
  return null;
}
