import type { SqlExecutor } from '@orrange/queue';
import type { Asset, FiatCurrency } from '@orrange/money';

/** Adds a completed trade to its market's minute bucket and last price, in the completion transaction. */
export async function recordCompletedTrade(tx: SqlExecutor, t: { asset: Asset; fiatCurrency: FiatCurrency; price: string; amount: string; fiatAmount: string }): Promise<void> {
  await tx.query(
    `WITH bucket AS (
       INSERT INTO market_minutes AS m (asset, fiat_currency, minute, trades, volume, fiat_volume, high, low, last_price, last_at)
       VALUES ($1, $2, date_trunc('minute', now()), 1, $4, $5, $3, $3, $3, now())
       ON CONFLICT (asset, fiat_currency, minute) DO UPDATE SET
         trades = m.trades + 1, volume = m.volume + EXCLUDED.volume, fiat_volume = m.fiat_volume + EXCLUDED.fiat_volume,
         high = greatest(m.high, EXCLUDED.high), low = least(m.low, EXCLUDED.low), last_price = EXCLUDED.last_price, last_at = EXCLUDED.last_at
       RETURNING 1)
     INSERT INTO market_last (asset, fiat_currency, last_price, last_at) VALUES ($1, $2, $3, now())
     ON CONFLICT (asset, fiat_currency) DO UPDATE SET last_price = EXCLUDED.last_price, last_at = EXCLUDED.last_at`,
    [t.asset, t.fiatCurrency, t.price, t.amount, t.fiatAmount],
  );
}

/** Marks users as active now (trade created or completed), for activeUsers24h. */
export async function touchUsers(tx: SqlExecutor, userIds: string[]): Promise<void> {
  await tx.query(
    `INSERT INTO user_activity (user_id, last_active_at) SELECT DISTINCT unnest($1::text[]), now() ORDER BY 1
     ON CONFLICT (user_id) DO UPDATE SET last_active_at = EXCLUDED.last_active_at`,
    [userIds],
  );
}

export interface MarketRow {
  asset: Asset;
  fiat_currency: FiatCurrency;
  last_price: string;
  trades: number;
  volume: string;
  fiat_volume: string;
  high: string | null;
  low: string | null;
}

/** Every market that ever completed a trade, with its last 24 h from the minute buckets (≤ 1,440 rows each). */
export async function marketStats(db: SqlExecutor): Promise<MarketRow[]> {
  return db.query<MarketRow>(
    `SELECT l.asset, l.fiat_currency, l.last_price::text,
            coalesce(d.trades, 0)::int AS trades, coalesce(d.volume, 0)::text AS volume, coalesce(d.fiat_volume, 0)::text AS fiat_volume,
            d.high::text, d.low::text
     FROM market_last l
     LEFT JOIN (SELECT asset, fiat_currency, sum(trades) AS trades, sum(volume) AS volume, sum(fiat_volume) AS fiat_volume, max(high) AS high, min(low) AS low
                FROM market_minutes WHERE minute >= now() - interval '24 hours' GROUP BY asset, fiat_currency) d
       ON d.asset = l.asset AND d.fiat_currency = l.fiat_currency
     ORDER BY l.asset, l.fiat_currency`,
  );
}

export interface AdminStatsRow {
  active_users: number;
  open_trades: number;
  open_disputes: number;
}

export async function adminStats(db: SqlExecutor): Promise<{ totals: AdminStatsRow; volumes: Array<{ asset: Asset; trades: number; volume: string }> }> {
  const [totals] = await db.query<AdminStatsRow>(
    `SELECT (SELECT count(*) FROM user_activity WHERE last_active_at >= now() - interval '24 hours')::int AS active_users,
            (SELECT count(*) FROM trades WHERE status IN ('AWAITING_PAYMENT', 'PAID', 'DISPUTED'))::int AS open_trades,
            (SELECT count(*) FROM trades WHERE status = 'DISPUTED')::int AS open_disputes`,
  );
  const volumes = await db.query<{ asset: Asset; trades: number; volume: string }>(
    `SELECT asset, sum(trades)::int AS trades, sum(volume)::text AS volume FROM market_minutes
     WHERE minute >= now() - interval '24 hours' GROUP BY asset`,
  );
  return { totals: totals!, volumes };
}

export async function openTradeCounts(db: SqlExecutor): Promise<Array<{ status: string; n: number }>> {
  return db.query(`SELECT status, count(*)::int AS n FROM trades WHERE status IN ('AWAITING_PAYMENT', 'PAID', 'DISPUTED') GROUP BY status`);
}
