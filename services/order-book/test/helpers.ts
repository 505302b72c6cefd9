import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { Express } from 'express';
import { IDENTITY_HEADER, signIdentity } from '@orrange/http';
import type { Asset } from '@orrange/money';
import type { SqlRunner } from '@orrange/db';
import type { Runtime } from '@orrange/runtime';
import type { TestDatabase } from '@orrange/testing';

/**
 * Credits a user's AVAILABLE balance in trade-execution's ledger, as a deposit would: through its post_journal,
 * on its own schema's search path, as the migration role (the ledger is not order-book's to write, and its role is
 * refused it; tests stand in for a deposit).
 */
export async function deposit(owner: TestDatabase, userId: string, asset: Asset, amount: string): Promise<void> {
  await owner.transaction(async (tx) => {
    await tx.query('SET LOCAL search_path TO trade');
    const legs = [
      { kind: 'EXTERNAL', owner: '', ref: '', asset, amount: `-${amount}` },
      { kind: 'AVAILABLE', owner: userId, ref: '', asset, amount },
    ];
    const {
      rows: [row],
    } = await tx.query<{ outcome: string }>('SELECT post_journal($1, $2, $3, $4::jsonb) AS outcome', [
      randomUUID(),
      'DEPOSIT',
      `test-${userId}`,
      JSON.stringify(legs),
    ]);
    if (row!.outcome !== 'OK') throw new Error(`deposit answered ${row!.outcome}`);
  });
}

/** A user's balance of one account kind (AVAILABLE, or HELD / ESCROW of one order / trade) in trade-execution's ledger. */
export async function ledgerBalance(
  db: SqlRunner,
  kind: 'AVAILABLE' | 'HELD' | 'ESCROW',
  owner: string,
  asset: Asset,
  ref = '',
): Promise<string> {
  const [row] = await db.query<{ balance: string }>(
    'SELECT coalesce(sum(balance), 0)::text AS balance FROM trade.accounts WHERE kind = $1 AND owner_id = $2 AND asset = $3 AND ref_id = $4',
    [kind, owner, asset, ref],
  );
  return row!.balance;
}

export type Actors = ReturnType<typeof actors>;

/** Small factories for component tests: act as a user, fund, place orders. */
export function actors(runtime: Runtime, app: Express, owner: TestDatabase) {
  const secret = runtime.config.INTERNAL_TOKEN_SECRET;
  const as = (userId: string) => ({
    [IDENTITY_HEADER]: signIdentity({ userId, roles: ['user'], scopes: null, via: 'jwt' }, secret),
  });
  const place = (userId: string, body: Record<string, unknown>) =>
    request(app)
      .post('/api/v1/orders')
      .set(as(userId))
      .send({
        side: 'BUY',
        asset: 'BTC',
        fiatCurrency: 'USD',
        price: '100.00',
        amount: '1',
        paymentMethods: ['SEPA'],
        ...body,
      });
  /** A SELL order whose seller was funded for it first: OPEN (and matched) in the book. */
  const placeFundedSell = async (userId: string, body: Record<string, unknown> = {}) => {
    const asset = (body.asset ?? 'BTC') as Asset;
    await deposit(owner, userId, asset, String(body.amount ?? '1'));
    const res = await place(userId, { side: 'SELL', ...body });
    if (res.status !== 201) throw new Error(`place failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.order.id as string;
  };
  return {
    as,
    place,
    placeFundedSell,
    fund: (userId: string, asset: Asset, amount: string) => deposit(owner, userId, asset, amount),
  };
}

/**
 * What must hold in the book and the ledger whatever happened: every order's fills (as maker or taker) add up to
 * what it lost of its amount, so no maker was ever over-filled; every match has exactly its trade in
 * trade-execution with the same parties, price and amount and its escrow locked, and no trade lacks its match;
 * every SELL order still in the book (or filled) holds exactly its remainder; nobody trades with themselves.
 * Returns the violations, for a readable failure.
 */
export async function bookInvariantViolations(db: SqlRunner): Promise<string[]> {
  const unbalanced = await db.query<{ id: string }>(
    `SELECT o.id FROM orders o
     WHERE o.amount - o.remaining <> (SELECT COALESCE(sum(amount), 0) FROM matches m WHERE m.status = 'ACTIVE' AND o.id IN (m.maker_order_id, m.taker_order_id))
       OR o.remaining < 0`,
  );
  const untraded = await db.query<{ id: string }>(
    `SELECT m.id FROM matches m WHERE NOT EXISTS (
       SELECT 1 FROM trade.trades t JOIN trade.accounts a ON a.kind = 'ESCROW' AND a.ref_id = t.id AND a.owner_id = t.seller_id
       WHERE t.match_id = m.id::text AND t.id = m.trade_id::text AND t.buyer_id = m.buyer_id AND t.seller_id = m.seller_id
         AND t.amount = m.amount AND t.price = m.price AND a.balance = t.amount AND t.escrow_status = 'LOCKED')`,
  );
  const unmatched = await db.query<{ id: string }>(
    'SELECT t.id FROM trade.trades t WHERE NOT EXISTS (SELECT 1 FROM matches m WHERE m.id::text = t.match_id)',
  );
  const misheld = await db.query<{ id: string }>(
    `SELECT o.id FROM orders o LEFT JOIN trade.accounts a ON a.kind = 'HELD' AND a.ref_id = o.id::text AND a.owner_id = o.user_id AND a.asset = o.asset
     WHERE o.side = 'SELL' AND o.status IN ('OPEN', 'PARTIALLY_FILLED', 'FILLED') AND coalesce(a.balance, 0) <> o.remaining`,
  );
  const selfTrades = await db.query<{ id: string }>('SELECT id FROM matches WHERE buyer_id = seller_id');
  return [
    ...unbalanced.map((r) => `order ${r.id}: fills do not add up to its amount minus its remainder`),
    ...untraded.map((r) => `match ${r.id}: no trade that agrees with it, escrow locked`),
    ...unmatched.map((r) => `trade ${r.id}: no match`),
    ...misheld.map((r) => `order ${r.id}: its hold is not its remainder`),
    ...selfTrades.map((r) => `match ${r.id}: buyer and seller are the same user`),
  ];
}
