import { conflict, forbidden } from '@orrange/http';

/**
 * Abuse limits (API.md "Trading essentials"), all configuration. The merchant role has its own, higher open-order
 * and open-trade limits; an order remembers whether its owner was a merchant when placing it (Order.merchant).
 */
export interface Limits {
  ordersOpenMax: number;
  merchantOrdersOpenMax: number;
  tradesOpenAsBuyerMax: number;
  merchantTradesOpenMax: number;
  /** Cancelled or expired trades within 24 h that suspend a buyer until 24 h after the last of them. */
  buyerCancelsMax: number;
}

/** The limits of the buyers a SELL may match, read with its candidates (trade-execution's buyer_room). */
export interface BuyerLimits {
  tradesMax: number;
  merchantTradesMax: number;
  cancelsMax: number;
}

export function buyerLimitsOf(limits: Limits): BuyerLimits {
  return {
    tradesMax: limits.tradesOpenAsBuyerMax,
    merchantTradesMax: limits.merchantTradesOpenMax,
    cancelsMax: limits.buyerCancelsMax,
  };
}

export function ordersOpenMax(limits: Limits, merchant: boolean): number {
  return merchant ? limits.merchantOrdersOpenMax : limits.ordersOpenMax;
}

export function tradesOpenMax(limits: Limits, merchant: boolean): number {
  return merchant ? limits.merchantTradesOpenMax : limits.tradesOpenAsBuyerMax;
}

/** A buyer as trade-execution's buyer_standing reports them (one without trades has no row: nothing open, not suspended). */
export interface BuyerStanding {
  openTrades: number;
  suspendedUntil: Date | null;
}

/** How many more trades a buyer may open now: none while suspended, else what the limit leaves. */
export function buyerRoom(standing: BuyerStanding | undefined, tradesMax: number): number {
  if (!standing) return tradesMax;
  if (standing.suspendedUntil) return 0;
  return Math.max(0, tradesMax - standing.openTrades);
}

/** Why a buyer may not open a trade now (403 suspended, 409 at the limit), or undefined when they may. */
export function buyerRefusal(standing: BuyerStanding | undefined, tradesMax: number): Error | undefined {
  if (standing?.suspendedUntil) {
    return forbidden(
      `Too many of your trades were cancelled or expired: you cannot open buying trades until ${standing.suspendedUntil.toISOString()}.`,
      'TRADE.BUYER_SUSPENDED',
    );
  }
  if (buyerRoom(standing, tradesMax) === 0)
    return conflict('TRADE.LIMIT_REACHED', `You already have ${tradesMax} open trades as a buyer: finish one first.`);
  return undefined;
}

export const orderLimitReached = (ordersMax: number) =>
  conflict('ORDER.LIMIT_REACHED', `You already have ${ordersMax} open orders: cancel or finish one first.`);
