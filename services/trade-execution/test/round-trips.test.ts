import type { Database, Tx } from '@orrange/db';
import { actOnTrade } from '../src/domain/trades.use-case';
import { balance, fund, openTrade, placeSellHolds, releaseSellHold, sellHold, verify } from './factories';
import { createHarness, type Harness } from './harness';

/** A transaction that counts the statements sent through it (each is one round trip to Postgres). */
function counting(tx: Tx, count: () => void): Tx {
  return {
    query: <R>(sql: string, params?: unknown[]) => {
      count();
      return tx.query<R>(sql, params);
    },
    queries: <R>(statements: Parameters<Tx['queries']>[0]) => {
      count();
      return tx.queries<R>(statements);
    },
    // The last statement goes with the deferred writes and COMMIT: one round trip.
    commitWith: <R>(sql: string, params?: unknown[]) => {
      count();
      return tx.commitWith<R>(sql, params);
    },
    // A deferred write goes with COMMIT: no round trip of its own.
    defer: (sql: string, params?: unknown[]) => tx.defer(sql, params),
    // It goes with the next round trip: none of its own.
    sendWithNext: <R>(sql: string, params?: unknown[]) => tx.sendWithNext<R>(sql, params),
    afterCommit: (effect) => tx.afterCommit(effect),
  };
}

describe('round trips of the money paths (release of a hold, settlement of a trade)', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness();
  });

  afterAll(() => h.close());

  it('when a placed hold is released in the cancelling transaction, then the release adds one statement to it: the function reads, posts and marks inside', async () => {
    const hold = sellHold('rt-cancel', 'BTC', '0.5');
    await fund(h, 'rt-cancel', 'BTC', '1');
    await placeSellHolds(h, [hold]);
    let statements = 0;
    const outcome = await h.runtime.db.transaction((tx) =>
      releaseSellHold(
        h,
        { orderId: hold.orderId, userId: 'rt-cancel', asset: 'BTC', remaining: '0.5' },
        counting(tx, () => (statements += 1)),
      ),
    );
    expect(outcome).toBe('OK');
    expect(statements).toBe(1);
    expect(await balance(h, 'rt-cancel', 'BTC')).toMatchObject({ available: '1.00000000', held: '0.00000000' });
    expect((await verify(h)).ok).toBe(true);
  });

  it('when a seller releases, then the completion is recorded with its parties marked active in one statement: lock, post, update, record (its events go with COMMIT)', async () => {
    const m = await openTrade(h, { amount: '0.1' });
    // Activity rows from the trade's creation are removed, so the ones found after come from the completion.
    await h.runtime.db.query('DELETE FROM user_activity_hours WHERE user_id = ANY ($1::text[])', [
      [m.buyerId, m.sellerId],
    ]);
    let statements = 0;
    const db = h.deps.db;
    const countingDb = Object.assign(Object.create(db) as Database, {
      transaction: <T>(body: (tx: Tx) => Promise<T>, options?: Parameters<Database['transaction']>[1]) =>
        db.transaction((tx) => body(counting(tx, () => (statements += 1))), options),
    });
    const { trade } = await actOnTrade(
      { ...h.deps, db: countingDb },
      m.tradeId,
      { userId: m.sellerId, roles: ['user'], scopes: null, via: 'jwt' },
      'release',
    );
    expect(trade.status).toBe('COMPLETED');
    expect(statements).toBe(4);
    const active = await h.runtime.db.query<{ user_id: string }>(
      'SELECT user_id FROM user_activity_hours WHERE user_id = ANY ($1::text[]) ORDER BY user_id',
      [[m.buyerId, m.sellerId]],
    );
    expect(active.map((r) => r.user_id)).toEqual([m.buyerId, m.sellerId].sort());
    const [minutes] = await h.runtime.db.query<{ trades: number }>(
      `SELECT sum(trades)::int AS trades FROM market_minutes WHERE asset = 'BTC' AND fiat_currency = 'USD'`,
    );
    expect(minutes!.trades).toBe(1);
  });
});
