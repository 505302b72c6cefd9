import { randomUUID } from 'node:crypto';
import { Database } from '@orrange/db';
import { postMovement, postMovements } from '../src/data/ledger.repository';
import { available, external, held } from '../src/domain/ledger';
import { buyerStandingCall } from '@orrange/queue';
import { openTrades, placeSellHolds, sellHold, tradeOpening } from './factories';
import { createHarness, type Harness } from './harness';

/**
 * The ledger's cost per posting must not grow with the ledger: every SELL order and every trade adds accounts,
 * so a posting that scanned "accounts" would get slower forever. Postgres counts the rows each table gave to
 * scans, sequential or by index (with enable_seqscan off, a scan of the whole table is an index scan without a
 * condition, which the count of sequential scans misses); a group of postings must read a few dozen rows, not
 * the ledger, neither on a large analysed ledger nor in a session whose plans were made while the ledger was
 * still small (PL/pgSQL keeps its plans for the life of the connection).
 */
describe('ledger postings on a large ledger', () => {
  let h: Harness;
  let db: Database;

  beforeAll(async () => {
    h = await createHarness();
    // One connection, so the statistics read are the ones this session flushed.
    db = new Database({
      url: h.config.DATABASE_URL,
      name: 'ledger-plans',
      schema: 'trade',
      max: 1,
      healthIntervalMs: 0,
    });
    await db.transaction((tx) =>
      postMovement(tx, {
        id: randomUUID(),
        kind: 'DEPOSIT',
        ref: 'd',
        legs: [external('BTC', -1000n), available('u1', 'BTC', 1000n)],
      }),
    );
    // Plans made on a ledger of a few accounts (more than five times: PL/pgSQL then settles on a generic plan).
    for (let i = 0; i < 8; i++) await postAloneAndInAGroup();
    for (let i = 0; i < 8; i++) await readStanding();
    await db.query(
      `INSERT INTO accounts (kind, owner_id, ref_id, asset) SELECT 'HELD', 'u' || (g % 50), g::text, 'BTC' FROM generate_series(1, 20000) g`,
    );
    await db.query(`INSERT INTO buyer_standing (user_id) SELECT 'b' || g FROM generate_series(1, 20000) g`);
  });

  afterAll(async () => {
    await db.close();
    await h.close();
  });

  function hold() {
    const orderId = randomUUID();
    return {
      id: randomUUID(),
      kind: 'HOLD',
      ref: orderId,
      legs: [available('u1', 'BTC', -1n), held('u1', orderId, 'BTC', 1n)],
    };
  }

  /**
   * A group reads 65 rows of its own accounts; the source lock planned on a small ledger read 931 here (a merge
   * join from the start of the identity index), and more as the ledger grows.
   */
  const ROWS_READ_MAX = 100n;

  const rowsRead = async (table: 'accounts' | 'buyer_standing') => {
    await db.query('SELECT pg_stat_clear_snapshot()');
    const [row] = await db.query<{ n: string }>(
      `SELECT (t.seq_tup_read + (SELECT coalesce(sum(i.idx_tup_read), 0) FROM pg_stat_user_indexes i WHERE i.relid = t.relid))::text AS n
       FROM pg_stat_user_tables t WHERE t.relname = $1 AND t.schemaname = 'trade'`,
      [table],
    );
    return BigInt(row!.n);
  };
  const accountRowsRead = () => rowsRead('accounts');

  /**
   * What each BUY's admission reads: the standing of two buyers, by a plan made once per connection (generic), which
   * must find them by the primary key however few buyers there were when it was made.
   */
  const readStanding = () =>
    db.transaction(async (tx) => {
      await tx.query(`SELECT * FROM ${buyerStandingCall('$1::text[]', '3')}`, [['b1', 'b2']]);
      await tx.query('SELECT pg_stat_force_next_flush()');
    });

  /** Postings through post_journals, and the order path's transfers: holds of SELLs and escrows of trades from them. */
  const postAloneAndInAGroup = () =>
    db.transaction(async (tx) => {
      expect(await postMovement(tx, hold())).toBe('OK');
      expect(await postMovements(tx, [hold(), hold(), hold()])).toEqual(['OK', 'OK', 'OK']);
      const holds = [sellHold('u1', 'BTC', '0.00000001'), sellHold('u1', 'BTC', '0.00000001')];
      expect(await placeSellHolds(h, holds.slice(0, 1), tx)).toEqual(['OK']);
      expect(await placeSellHolds(h, holds.slice(1), tx)).toEqual(['OK']);
      const escrow = (orderId: string) =>
        tradeOpening({ sellerId: 'u1', sellOrderId: orderId, sellerFunding: 'HOLD', amount: '0.00000001' });
      expect(await openTrades(h, [escrow(holds[0]!.orderId)], tx)).toEqual(['OK']);
      expect(
        await openTrades(h, [escrow(holds[1]!.orderId), tradeOpening({ sellerId: 'u1', amount: '0.00000001' })], tx),
      ).toEqual(['OK', 'OK']);
      await tx.query('SELECT pg_stat_force_next_flush()');
    });

  it('when the ledger grew after the session planned its postings, then they still read only their own accounts', async () => {
    const before = await accountRowsRead();
    await postAloneAndInAGroup();
    expect((await accountRowsRead()) - before).toBeLessThan(ROWS_READ_MAX);
  });

  it('when the buyers grew after the session planned their standing, then it reads only the buyers asked for', async () => {
    const before = await rowsRead('buyer_standing');
    await readStanding();
    expect((await rowsRead('buyer_standing')) - before).toBeLessThanOrEqual(2n);
  });

  it('when the large ledger is analysed, then postings read only their own accounts', async () => {
    await db.query('ANALYZE accounts');
    const before = await accountRowsRead();
    await postAloneAndInAGroup();
    expect((await accountRowsRead()) - before).toBeLessThan(ROWS_READ_MAX);
  });
});
