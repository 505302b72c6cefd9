import { formatAmount, formatPrice, type Order } from '../domain/order';

/**
 * API.md's `order` object. Everyone sees the ad's terms; only the owner also sees why it was rejected.
 */
export function orderView(order: Order, viewerId?: string) {
  return {
    id: order.id,
    userId: order.userId,
    side: order.side,
    asset: order.asset,
    fiatCurrency: order.fiatCurrency,
    price: formatPrice(order.price),
    amount: formatAmount(order.asset, order.amount),
    remaining: formatAmount(order.asset, order.remaining),
    minFill: formatAmount(order.asset, order.minFill),
    paymentMethods: order.paymentMethods,
    paymentWindowMinutes: order.paymentWindowMinutes,
    terms: order.terms,
    minFiat: order.minFiat === null ? null : formatPrice(order.minFiat),
    maxFiat: order.maxFiat === null ? null : formatPrice(order.maxFiat),
    expiresAt: order.expiresAt?.toISOString() ?? null,
    paused: order.paused,
    status: order.status,
    ...(viewerId === order.userId
      ? { rejectReason: order.rejectReason, paymentMethodIds: order.paymentMethodIds }
      : {}),
    createdAt: order.createdAt.toISOString(),
    updatedAt: order.updatedAt.toISOString(),
  };
}
