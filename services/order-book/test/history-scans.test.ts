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
    // As the owner: the service's role may not analyse (Postgres would skip the table with a warning).
    await harness.testDb.query('ANALYZE orders');
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

describe('matching after the history grew under plans made on an empty book', () => {
  let harness: Harness;
  let t: Actors;

  beforeAll(async () => {
    ({ harness, t } = await createAppHarness({ DB_POOL_MAX: '1' }));
  });

  afterAll(() => harness.close());

  it('when the history grew after the session planned its statements, then matching reads the book, not the history', async () => {
    // Plans made while the table was empty (analysed so), as on a database created and analysed before a busy day.
    await harness.testDb.query('VACUUM ANALYZE orders');
    const match = async (i: number) => {
      await t.placeFundedSell(`small-seller-${i}`, { price: '90.00', amount: '0.01' });
      const crossing = await t.place(`small-buyer-${i}`, { price: '90.00', amount: '0.01' });
      expect(crossing.body.fills).toHaveLength(1);
    };
    for (let i = 0; i < 8; i++) await match(i);
    await harness.runtime.db.query(
      `INSERT INTO orders (id, user_id, side, asset, fiat_currency, price, amount, remaining, min_fill, payment_methods, payment_window_minutes, status, live)
       SELECT gen_random_uuid(), 'later' || (g % 40), CASE WHEN g % 2 = 0 THEN 'BUY' ELSE 'SELL' END, 'BTC', 'USD', 90, 1, 0, 1, ARRAY['SEPA'], 30, 'FILLED', false
       FROM generate_series(1, 20000) g`,
    );
    /** Sequential scans of "orders", and pages read of the book's indexes (a walk of one for "live" alone reads all). */
    const historyReads = async () => {
      await harness.runtime.db.query('SELECT pg_stat_force_next_flush()');
      await harness.runtime.db.query('SELECT pg_stat_clear_snapshot()');
      const [row] = await harness.runtime.db.query<{ scans: string; pages: string }>(
        `SELECT (SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'orders')::text AS scans,
                (SELECT coalesce(sum(idx_blks_hit + idx_blks_read), 0) FROM pg_statio_user_indexes WHERE indexrelname LIKE 'orders_book_%')::text AS pages`,
      );
      return { scans: BigInt(row!.scans), pages: BigInt(row!.pages) };
    };
    const before = await historyReads();
    for (let i = 8; i < 12; i++) await match(i);
    // Four matches read a book of a few orders, a few pages of its indexes: a statement that walked a book index for
    // its "live" column alone would read every page of it (20,000 filled orders), each time.
    const after = await historyReads();
    expect(after.scans).toBe(before.scans);
    expect(after.pages).toBeLessThan(before.pages + 300n);
  });
});
