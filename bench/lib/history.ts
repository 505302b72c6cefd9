import pg from 'pg';

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export interface MatchToTrade {
  /** Matches recorded since `since`. */
  matches: number;
  /** Per match that has its trade: from the match's commit to the escrow-locking trade's, in ms. */
  latenciesMs: number[];
}

/**
 * Match → trade latency per match made since `since`: from the order-book transaction that recorded the
 * match to the trade-execution transaction that locked the escrow and created the trade (both `now()` of
 * their transactions, on the one database clock). Matches without a trade yet are counted, not timed.
 */
export function matchToTradeLatencies(url: string, since: Date): Promise<MatchToTrade> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ ms: number | null }>(
      `SELECT extract(epoch FROM (t.created_at - m.created_at)) * 1000 AS ms
         FROM order_book.matches m LEFT JOIN trade.trades t ON t.match_id = m.id::text
        WHERE m.created_at >= $1`,
      [since],
    );
    return { matches: rows.length, latenciesMs: rows.filter((r) => r.ms !== null).map((r) => Number(r.ms)) };
  });
}

/**
 * Writes `count` completed trades spread over the last 30 days (four assets, three fiats, 2,000 users) and
 * their statistics buckets, as the completion transaction would have, so the statistics endpoints are
 * measured against a long history. Ledger journals are not needed by statistics and are not written.
 */
export function seedStatsHistory(url: string, count: number): Promise<void> {
  return withClient(url, async (client) => {
    await client.query('BEGIN');
    await client.query(
      `INSERT INTO trade.trades (id, match_id, buyer_id, seller_id, asset, fiat_currency, price, amount, fiat_amount, payment_method,
                                 payment_window_minutes, status, escrow_status, payment_deadline, closed_at, created_at, updated_at)
       SELECT 'hist-' || g, 'hist-match-' || g, 'user-' || (g % 2000), 'user-' || ((g + 7) % 2000),
              (ARRAY['BTC','ETH','USDT','USDC'])[1 + g % 4], (ARRAY['USD','EUR','NGN'])[1 + (g / 4) % 3],
              p.price, p.amount, round(p.price * p.amount, 2), 'SEPA', 30, 'COMPLETED', 'RELEASED', ts + interval '30 minutes', ts + interval '5 minutes', ts, ts
         FROM generate_series(1, $1::int) AS g
         CROSS JOIN LATERAL (SELECT now() - (random() * interval '30 days') AS ts) t
         CROSS JOIN LATERAL (SELECT round((1000 + random() * 60000)::numeric, 2) AS price, round((0.0001 + random())::numeric, 6) AS amount) p`,
      [count],
    );
    await client.query(
      `INSERT INTO trade.market_minutes (asset, fiat_currency, minute, shard, trades, volume, fiat_volume, high, low, last_price, last_at)
       SELECT asset, fiat_currency, date_trunc('minute', closed_at), 0, count(*), sum(amount), sum(fiat_amount), max(price), min(price),
              (array_agg(price ORDER BY closed_at DESC))[1], max(closed_at)
         FROM trade.trades WHERE id LIKE 'hist-%' GROUP BY 1, 2, 3
       ON CONFLICT DO NOTHING`,
    );
    await client.query(
      `INSERT INTO trade.markets (asset, fiat_currency) SELECT DISTINCT asset, fiat_currency FROM trade.trades WHERE id LIKE 'hist-%' ON CONFLICT DO NOTHING`,
    );
    await client.query(
      `INSERT INTO trade.user_activity_hours (hour, user_id)
       SELECT DISTINCT date_trunc('hour', closed_at), buyer_id FROM trade.trades WHERE id LIKE 'hist-%' ON CONFLICT DO NOTHING`,
    );
    await client.query('COMMIT');
    await client.query('ANALYZE trade.trades; ANALYZE trade.market_minutes; ANALYZE trade.user_activity_hours');
  });
}
