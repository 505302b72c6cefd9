import { randomUUID } from 'node:crypto';
import type { TradeOpening } from '@orrange/queue';
import type { MatchRecord } from '../data/order.repository';
import type { BuyerLimits } from './limits';
import type { Fill } from './matching-engine';
import { formatAmount, formatPrice, type FillView, type Order } from './order';

/** A fill between an order that came in (the taker) and one that rested in the book (the maker). */
export function matchBetween(taker: Order, maker: Order, fill: Fill): MatchRecord {
  const buy = taker.side === 'BUY' ? taker : maker;
  const sell = taker.side === 'SELL' ? taker : maker;
  return {
    id: randomUUID(),
    tradeId: randomUUID(),
    makerOrderId: maker.id,
    takerOrderId: taker.id,
    buyOrderId: buy.id,
    sellOrderId: sell.id,
    buyerId: buy.userId,
    sellerId: sell.userId,
    asset: maker.asset,
    fiatCurrency: maker.fiatCurrency,
    price: fill.price,
    amount: fill.amount,
    paymentMethod: fill.paymentMethod,
    // The SELL side's own window: nobody locks a seller's crypto for longer than the seller chose.
    paymentWindowMinutes: sell.paymentWindowMinutes,
    // The SELL side of an automatic match is always an order that is in the book, so its hold is in place.
    sellerFunding: 'HOLD',
    paymentMethodIds: sell.paymentMethodIds,
    buyerMerchant: buy.merchant,
  };
}

/**
 * What trade-execution's open_trades needs to open the trade of a match (validated against the contract there),
 * with the buyer's limits it was decided with: open_trades keeps them against what other markets committed meanwhile.
 */
export function tradeOpening(m: MatchRecord, limits: BuyerLimits): TradeOpening {
  return {
    matchId: m.id,
    tradeId: m.tradeId,
    buyOrderId: m.buyOrderId,
    sellOrderId: m.sellOrderId,
    buyerId: m.buyerId,
    sellerId: m.sellerId,
    asset: m.asset,
    fiatCurrency: m.fiatCurrency,
    price: formatPrice(m.price),
    amount: formatAmount(m.asset, m.amount),
    paymentMethod: m.paymentMethod,
    paymentWindowMinutes: m.paymentWindowMinutes,
    sellerFunding: m.sellerFunding,
    ...(m.paymentMethodIds.length > 0 ? { paymentMethodIds: m.paymentMethodIds } : {}),
    buyerTradesMax: m.buyerMerchant ? limits.merchantTradesMax : limits.tradesMax,
    buyerCancelsMax: limits.cancelsMax,
  };
}

export function fillView(m: MatchRecord, counterOrderId: string): FillView {
  return {
    matchId: m.id,
    tradeId: m.tradeId,
    counterOrderId,
    price: formatPrice(m.price),
    amount: formatAmount(m.asset, m.amount),
  };
}
