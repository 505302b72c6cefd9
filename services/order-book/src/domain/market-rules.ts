import { unprocessable } from '@orrange/http';
import { ASSET_SCALES, type Asset, type FiatCurrency } from '@orrange/money';
import { formatPrice } from './order';

/** How far from the market's reference price an order may be priced: ±20 % (API.md ORDER.PRICE_OUT_OF_BAND). */
export const PRICE_BAND_PERCENT = 20n;

/** A market's rules as GET /markets shows them; prices and minimum in cents. */
export interface MarketRules {
  asset: Asset;
  fiatCurrency: FiatCurrency;
  /** What an admin set, else the median price of the last 24 h of matches, else none. */
  referencePrice: bigint | null;
  referenceSource: 'admin' | 'trades' | null;
  /** The smallest fiat value (price × amount) of an order; null: none. */
  minFiat: bigint | null;
}

export function rulesFrom(row: {
  asset: Asset;
  fiatCurrency: FiatCurrency;
  adminReference: bigint | null;
  tradesReference: bigint | null;
  minFiat: bigint | null;
}): MarketRules {
  const referencePrice = row.adminReference ?? row.tradesReference;
  return {
    asset: row.asset,
    fiatCurrency: row.fiatCurrency,
    referencePrice,
    referenceSource: row.adminReference !== null ? 'admin' : row.tradesReference !== null ? 'trades' : null,
    minFiat: row.minFiat,
  };
}

/**
 * Why an order (price in cents, amount in the asset's units) breaks its market's rules, if it does: priced more than
 * PRICE_BAND_PERCENT from the reference price, or worth less than the market's minimum. Exact integer arithmetic.
 */
export function marketRefusal(
  rules: MarketRules | undefined,
  asset: Asset,
  price: bigint,
  amount: bigint,
): Error | undefined {
  if (!rules) return undefined;
  const reference = rules.referencePrice;
  if (
    reference !== null &&
    (price * 100n < reference * (100n - PRICE_BAND_PERCENT) || price * 100n > reference * (100n + PRICE_BAND_PERCENT))
  ) {
    return unprocessable(
      'ORDER.PRICE_OUT_OF_BAND',
      `The price must be within ${PRICE_BAND_PERCENT} % of the market's reference price ${formatPrice(reference)}.`,
    );
  }
  if (rules.minFiat !== null && price * amount < rules.minFiat * 10n ** BigInt(ASSET_SCALES[asset])) {
    return unprocessable(
      'ORDER.BELOW_MINIMUM',
      `An order in this market must be worth at least ${formatPrice(rules.minFiat)}.`,
    );
  }
  return undefined;
}

export function marketView(rules: MarketRules) {
  return {
    asset: rules.asset,
    fiatCurrency: rules.fiatCurrency,
    referencePrice: rules.referencePrice === null ? null : formatPrice(rules.referencePrice),
    referenceSource: rules.referenceSource,
    minFiat: rules.minFiat === null ? null : formatPrice(rules.minFiat),
  };
}
