import { FIAT_SCALE, numericUnits, type Asset, type FiatCurrency } from '@orrange/money';
import type { SqlRunner } from '@orrange/db';
import { rulesFrom, type MarketRules } from '../domain/market-rules';
import { formatPrice } from '../domain/order';

const RULE_COLUMNS = `asset, fiat_currency, admin_reference_price::text AS admin_reference, trades_reference_price::text AS trades_reference, min_fiat::text AS min_fiat`;

interface RulesRow {
  asset: Asset;
  fiat_currency: FiatCurrency;
  admin_reference: string | null;
  trades_reference: string | null;
  min_fiat: string | null;
}

const cents = (value: string | null) => (value === null ? null : numericUnits(value, FIAT_SCALE));
const toRules = (r: RulesRow) =>
  rulesFrom({
    asset: r.asset,
    fiatCurrency: r.fiat_currency,
    adminReference: cents(r.admin_reference),
    tradesReference: cents(r.trades_reference),
    minFiat: cents(r.min_fiat),
  });

/** Every market's rules (a market exists once it had an order, or an admin set its rules). */
export async function listMarketRules(db: SqlRunner): Promise<MarketRules[]> {
  const rows = await db.query<RulesRow>(`SELECT ${RULE_COLUMNS} FROM markets ORDER BY asset, fiat_currency`);
  return rows.map(toRules);
}

/**
 * An admin's rules for a market (created if new): `undefined` keeps a value, null clears it. The admin reference
 * price wins over the trades' median while it is set.
 */
export async function saveMarketRules(
  db: SqlRunner,
  asset: Asset,
  fiatCurrency: FiatCurrency,
  change: { referencePrice?: bigint | null; minFiat?: bigint | null },
): Promise<MarketRules> {
  const value = (v: bigint | null | undefined) => (v === undefined || v === null ? null : formatPrice(v));
  const [row] = await db.query<RulesRow>(
    `INSERT INTO markets (asset, fiat_currency, admin_reference_price, min_fiat, rules_updated_at) VALUES ($1, $2, $4::numeric, $6::numeric, now())
     ON CONFLICT (asset, fiat_currency) DO UPDATE SET
       admin_reference_price = CASE WHEN $3 THEN $4::numeric ELSE markets.admin_reference_price END,
       min_fiat = CASE WHEN $5 THEN $6::numeric ELSE markets.min_fiat END,
       rules_updated_at = now()
     RETURNING ${RULE_COLUMNS}`,
    [
      asset,
      fiatCurrency,
      change.referencePrice !== undefined,
      value(change.referencePrice),
      change.minFiat !== undefined,
      value(change.minFiat),
    ],
  );
  return toRules(row!);
}

/**
 * Sets every market's trades reference price to the median price of its matches of the last 24 h (none: null).
 * One statement over the markets, each reading its recent matches through matches_market_time_idx.
 */
export async function refreshTradesReference(db: SqlRunner): Promise<void> {
  await db.query(
    `UPDATE markets m SET trades_reference_price = r.median, rules_updated_at = now()
     FROM (SELECT mk.asset, mk.fiat_currency,
             (SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY x.price)::numeric, 2) FROM matches x
              WHERE x.asset = mk.asset AND x.fiat_currency = mk.fiat_currency AND x.created_at > now() - interval '24 hours' AND x.status = 'ACTIVE') AS median
           FROM markets mk) r
     WHERE m.asset = r.asset AND m.fiat_currency = r.fiat_currency AND m.trades_reference_price IS DISTINCT FROM r.median`,
  );
}
