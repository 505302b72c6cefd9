import type { Asset, FiatCurrency } from '@orrange/money';
import type { EscrowStatus, TradeState } from './trade-state-machine';

/** A trade as the domain sees it: money in minor units (price and fiat amount in cents, amounts in the asset's units). */
export interface Trade {
  id: string;
  matchId: string;
  buyOrderId: string | null;
  sellOrderId: string | null;
  buyerId: string;
  sellerId: string;
  asset: Asset;
  fiatCurrency: FiatCurrency;
  price: bigint;
  amount: bigint;
  fiatAmount: bigint;
  fee: bigint;
  paymentMethod: string;
  paymentWindowMinutes: number;
  status: TradeState;
  escrowStatus: EscrowStatus;
  paymentDeadline: Date;
  disputeId: string | null;
  disputedBy: string | null;
  arbitratorId: string | null;
  outcome: string | null;
  /** What a SPLIT resolution gave the buyer. */
  buyerAmount: bigint | null;
  cancelReason: string | null;
  paidAt: Date | null;
  closedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A chat message in the clear, as the domain sees it. */
export interface TradeMessage {
  id: string;
  /** Its place in the trade's chat (a bigint as a decimal string: the chat's cursor). */
  seq: string;
  tradeId: string;
  senderId: string;
  body: string;
  createdAt: Date;
}

/**
 * What the trade use cases announce after their commits to everyone concerned (messaging/live-updates.ts delivers
 * it). An announcement never fails the use case: the change it describes is committed already.
 */
export interface TradeUpdates {
  tradeChanged(trade: Trade): Promise<void>;
  messagePosted(message: TradeMessage, recipients: readonly string[]): void;
}

/** Counts what trades do, for /metrics (see metrics.ts). */
export interface BusinessMetrics {
  tradeCompleted(asset: string, amount: string): void;
}
