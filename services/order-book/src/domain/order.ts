import { ASSET_SCALES, FIAT_SCALE, fromUnits, type Asset, type FiatCurrency } from '@orrange/money';
import type { MatchableOrder, Side } from './matching-engine';

export type { Side } from './matching-engine';

export const ORDER_STATUSES = [
  'PENDING_FUNDS',
  'OPEN',
  'PARTIALLY_FILLED',
  'FILLED',
  'CANCELLED',
  'REJECTED',
  'EXPIRED',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** Statuses in which an order rests in the book and may be matched or taken. */
export const LIVE_STATUSES: readonly OrderStatus[] = ['OPEN', 'PARTIALLY_FILLED'];
/** Statuses an owner may cancel from. */
export const CANCELLABLE_STATUSES: readonly OrderStatus[] = ['PENDING_FUNDS', 'OPEN', 'PARTIALLY_FILLED'];

export const PAYMENT_WINDOW_DEFAULT_MINUTES = 30;

/** An order as the domain sees it: money in minor units (price in cents, amounts in the asset's units). */
export interface Order {
  id: string;
  userId: string;
  side: Side;
  asset: Asset;
  fiatCurrency: FiatCurrency;
  price: bigint;
  amount: bigint;
  remaining: bigint;
  minFill: bigint;
  paymentMethods: string[];
  /** A SELL's named saved payment methods (ids in the user service): where its trades' payment details come from. */
  paymentMethodIds: string[];
  paymentWindowMinutes: number;
  terms: string | null;
  /** Fiat limits per trade, in cents; null: none. */
  minFiat: bigint | null;
  maxFiat: bigint | null;
  /** When the order becomes EXPIRED; null: never. */
  expiresAt: Date | null;
  /** Out of the book and of matching (a SELL keeps its hold). */
  paused: boolean;
  /** The owner had the merchant role when placing it: the merchant limits apply to its trades. */
  merchant: boolean;
  status: OrderStatus;
  rejectReason: string | null;
  seq: bigint;
  createdAt: Date;
  updatedAt: Date;
}

/** One fill of a match, as API.md answers it: `{ matchId, tradeId, counterOrderId, price, amount }`. */
export interface FillView {
  matchId: string;
  tradeId: string;
  counterOrderId: string;
  price: string;
  amount: string;
}

/** The status an order has after a change of its remainder while it is in the book. */
export function statusForRemaining(order: Pick<Order, 'amount'>, remaining: bigint): OrderStatus {
  if (remaining === 0n) return 'FILLED';
  return remaining === order.amount ? 'OPEN' : 'PARTIALLY_FILLED';
}

export function toMatchable(order: Order): MatchableOrder {
  return {
    id: order.id,
    userId: order.userId,
    side: order.side,
    price: order.price,
    remaining: order.remaining,
    minFill: order.minFill,
    paymentMethods: order.paymentMethods,
    seq: order.seq,
    minFiat: order.minFiat,
    maxFiat: order.maxFiat,
    unitsPerCoin: 10n ** BigInt(ASSET_SCALES[order.asset]),
  };
}

export function formatAmount(asset: Asset, units: bigint): string {
  return fromUnits(units, ASSET_SCALES[asset]);
}

export function formatPrice(cents: bigint): string {
  return fromUnits(cents, FIAT_SCALE);
}
