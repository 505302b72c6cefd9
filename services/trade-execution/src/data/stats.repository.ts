import type { SqlRunner } from '@orrange/db';
import { ASSET_SCALES, FIAT_SCALE, fromUnits, numericUnits, type Asset, type FiatCurrency } from '@orrange/money';
import type { MarketStats } from '../domain/stats';
import type { Trade } from '../domain/trade';
import { OPEN_STATES } from '../domain/trade-state-machine';

/** Shards per market and minute: concurrent completions in one market spread over this many rows. */
const MINUTE_SHARDS = 8;

/**
 * Adds a completed trade to a random shard of its market's minute bucket, registers the market once and marks
 * its parties active this hour (markActive), in one statement of the completion transaction. None of it
 * makes concurrent completions wait long on one row.
 */
export async function recordCompletedTrade(
  tx: SqlRunner,
  t: Pick<Trade, 'asset' | 'fiatCurrency' | 'price' | 'amount' | 'fiatAmount' | 'buyerId' | 'sellerId'>,
): Promise<void> {
  await tx.query(
    `WITH market AS (INSERT INTO markets (asset, fiat_currency) VALUES ($1, $2) ON CONFLICT DO NOTHING),
     active AS (${markActive('$7')})
     INSERT INTO market_minutes AS m (asset, fiat_currency, minute, shard, trades, volume, fiat_volume, high, low, last_price, last_at)
     VALUES ($1, $2, date_trunc('minute', now()), $6, 1, $4, $5, $3, $3, $3, clock_timestamp())
     ON CONFLICT (asset, fiat_currency, minute, shard) DO UPDATE SET
       trades = m.trades + 1, volume = m.volume + EXCLUDED.volume, fiat_volume = m.fiat_volume + EXCLUDED.fiat_volume,
       high = greatest(m.high, EXCLUDED.high), low = least(m.low, EXCLUDED.low),
       last_price = CASE WHEN EXCLUDED.last_at >= m.last_at THEN EXCLUDED.last_price ELSE m.last_price END,
       last_at = greatest(m.last_at, EXCLUDED.last_at)`,
    [
      t.asset,
      t.fiatCurrency,
      fromUnits(t.price, FIAT_SCALE),
      fromUnits(t.amount, ASSET_SCALES[t.asset]),
      fromUnits(t.fiatAmount, FIAT_SCALE),
      Math.floor(Math.random() * MINUTE_SHARDS),
      [t.buyerId, t.sellerId],
    ],
  );
}

/**
 * The statement that marks users active this hour (a trade created or completed), for the text[] parameter
 * `param`; a WITH clause of the statements that create and complete trades. Insert-only, in user order: a busy
 * user's row is never locked, and concurrent inserts never deadlock.
 */
export function markActive(param: string): string {
  return `INSERT INTO user_activity_hours (hour, user_id) SELECT DISTINCT date_trunc('hour', now()), u FROM unnest(${param}::text[]) AS u ORDER BY 2
     ON CONFLICT DO NOTHING`;
}

interface MarketRow {
  asset: Asset;
  fiat_currency: FiatCurrency;
  last_price: string;
  trades: number;
  volume: string;
  fiat_volume: string;
  high: string | null;
  low: string | null;
}

const cents = (decimal: string) => numericUnits(decimal, FIAT_SCALE);

/** Every market that ever completed a trade: last price from its newest bucket, the last 24 h from the minute buckets. */
export async function marketStats(db: SqlRunner): Promise<MarketStats[]> {
  const rows = await db.query<MarketRow>(
    `SELECT l.asset, l.fiat_currency, last.last_price::text,
            coalesce(d.trades, 0)::int AS trades, coalesce(d.volume, 0)::text AS volume, coalesce(d.fiat_volume, 0)::text AS fiat_volume,
            d.high::text, d.low::text
     FROM markets l
     CROSS JOIN LATERAL (SELECT m.last_price FROM market_minutes m WHERE m.asset = l.asset AND m.fiat_currency = l.fiat_currency
                         ORDER BY m.minute DESC, m.last_at DESC LIMIT 1) last
     LEFT JOIN (SELECT asset, fiat_currency, sum(trades) AS trades, sum(volume) AS volume, sum(fiat_volume) AS fiat_volume, max(high) AS high, min(low) AS low
                FROM market_minutes WHERE minute >= now() - interval '24 hours' GROUP BY asset, fiat_currency) d
       ON d.asset = l.asset AND d.fiat_currency = l.fiat_currency
     ORDER BY l.asset, l.fiat_currency`,
  );
  return rows.map((m) => ({
    asset: m.asset,
    fiatCurrency: m.fiat_currency,
    lastPrice: cents(m.last_price),
    trades: m.trades,
    volume: numericUnits(m.volume, ASSET_SCALES[m.asset]),
    fiatVolume: cents(m.fiat_volume),
    high: m.high === null ? null : cents(m.high),
    low: m.low === null ? null : cents(m.low),
  }));
}

/** Users who placed, took or traded in the last 24 hours (user_activity_hours is kept by the order path). */
const ACTIVE_USERS_24H = `(SELECT count(*) FROM (SELECT DISTINCT user_id FROM user_activity_hours WHERE hour > now() - interval '24 hours') u)::int`;

export async function activeUsers24h(db: SqlRunner): Promise<number> {
  const [row] = await db.query<{ n: number }>(`SELECT ${ACTIVE_USERS_24H} AS n`);
  return row!.n;
}

/** The admin's day: users active, trades open and disputed now, and per asset the trades and volume (in units). */
export interface AdminStats {
  activeUsers: number;
  openTrades: number;
  openDisputes: number;
  volumes: Array<{ asset: Asset; trades: number; volume: bigint }>;
}

export async function adminStats(db: SqlRunner): Promise<AdminStats> {
  const [totals] = await db.query<{ activeUsers: number; openTrades: number; openDisputes: number }>(
    `SELECT ${ACTIVE_USERS_24H} AS "activeUsers",
            (SELECT count(*) FROM trades WHERE status = ANY ($1::text[]))::int AS "openTrades",
            (SELECT count(*) FROM trades WHERE status = 'DISPUTED')::int AS "openDisputes"`,
    [OPEN_STATES],
  );
  const volumes = await db.query<{ asset: Asset; trades: number; volume: string }>(
    `SELECT asset, sum(trades)::int AS trades, sum(volume)::text AS volume FROM market_minutes
     WHERE minute >= now() - interval '24 hours' GROUP BY asset`,
  );
  return {
    ...totals!,
    volumes: volumes.map((v) => ({ ...v, volume: numericUnits(v.volume, ASSET_SCALES[v.asset]) })),
  };
}

export async function openTradeCounts(db: SqlRunner): Promise<Array<{ status: string; n: number }>> {
  return db.query('SELECT status, count(*)::int AS n FROM trades WHERE status = ANY ($1::text[]) GROUP BY status', [
    OPEN_STATES,
  ]);
}
