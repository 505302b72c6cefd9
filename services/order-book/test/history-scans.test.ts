import { createAppHarness, type Harness } from './harness';
import type { Actors } from './helpers';

/**
 * Placing and matching must cost the same however long the book's history is: "orders" keeps every order ever
 * placed. Postgres counts the sequential scans of each table; matching on a large analysed history must not add
 * to that count. One pool connection, so every statement's statistics are this session's to flush.
 */
describe('matching on a long order history', () => {
  let harness: Harness;
  let t: Actors;

  beforeAll(async () => {
    ({ harness, t } = await createAppHarness({ DB_POOL_MAX: '1' }));
    await harness.runtime.db.query(
      `INSERT INTO orders (id, user_id, side, asset, fiat_currency, price, amount, remaining, min_fill, payment_methods, payment_window_minutes, status, live)
       SELECT gen_random_uuid(), 'old' || (g % 40), CASE WHEN g % 2 = 0 THEN 'BUY' ELSE 'SELL' END, 'BTC', 'USD', 100, 1, 0, 1, ARRAY['SEPA'], 30, 'FILLED', false
       FROM generate_series(1, 20000) g`,
    );
    await harness.runtime.db.query('ANALYZE orders');
  });

  afterAll(() => harness.close());

  const orderScans = async () => {
    await harness.runtime.db.query('SELECT pg_stat_force_next_flush()');
    await harness.runtime.db.query('SELECT pg_stat_clear_snapshot()');
    const [row] = await harness.runtime.db.query<{ n: string }>(
      `SELECT seq_scan::text AS n FROM pg_stat_user_tables WHERE relname = 'orders'`,
    );
    return BigInt(row!.n);
  };

  it('when BUY orders and funded SELL orders match, then no statement scans the whole history', async () => {
    const before = await orderScans();
    await t.place('buyer-1', { price: '100.00', amount: '1' });
    await Promise.all(
      ['seller-1', 'seller-2'].map((seller) => t.placeFundedSell(seller, { price: '100.00', amount: '0.5' })),
    );
    await t.placeFundedSell('seller-3', { price: '101.00', amount: '1' });
    const crossing = await t.place('buyer-2', { price: '101.00', amount: '0.4' });
    expect(crossing.body.fills).toHaveLength(1);
    expect(await harness.runtime.db.query(`SELECT count(*)::int AS n FROM matches`)).toEqual([{ n: 3 }]);
    expect(await orderScans()).toBe(before);
  });
});
