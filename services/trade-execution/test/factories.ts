import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { SqlRunner } from '@orrange/db';
import type { Asset } from '@orrange/money';
import {
  ledgerOutcomes,
  openTradesExpression,
  placeSellHoldsCall,
  releaseSellHoldCall,
  tradeOpeningsJson,
  type HoldRelease,
  type LedgerOutcome,
  type SellHold,
  type TradeOpening,
} from '@orrange/queue';
import type { Harness } from './harness';

export const ADMIN = 'admin-1';

export async function fund(h: Harness, userId: string, asset: Asset, amount: string): Promise<void> {
  const res = await request(h.app).post('/api/v1/wallet/deposits').set(h.as(userId)).send({ asset, amount });
  if (res.status !== 201) throw new Error(`deposit failed: ${res.status} ${JSON.stringify(res.body)}`);
}

export async function balance(
  h: Harness,
  userId: string,
  asset: Asset,
): Promise<{ available: string; held: string; inEscrow: string }> {
  const res = await request(h.app).get('/api/v1/wallet/balances').set(h.as(userId));
  return res.body.data.find((b: { asset: string }) => b.asset === asset);
}

export async function verify(
  h: Harness,
): Promise<{ ok: boolean; assets: Array<{ asset: string; sum: string; negativeAccounts: number }> }> {
  const res = await request(h.app)
    .get('/api/v1/admin/ledger/verify')
    .set(h.as(ADMIN, ['admin']));
  if (res.status !== 200) throw new Error(`verify failed: ${res.status}`);
  return res.body;
}

export async function outboxOf(h: Harness, type: string): Promise<Array<Record<string, unknown>>> {
  const rows = await h.runtime.db.query<{ payload: Record<string, unknown> }>(
    'SELECT payload FROM outbox WHERE type = $1 ORDER BY seq',
    [type],
  );
  return rows.map((r) => r.payload);
}

export function tradeOpening(overrides: Partial<TradeOpening> = {}): TradeOpening {
  return {
    matchId: randomUUID(),
    tradeId: randomUUID(),
    buyOrderId: randomUUID(),
    sellOrderId: null,
    buyerId: `buyer-${randomUUID().slice(0, 8)}`,
    sellerId: `seller-${randomUUID().slice(0, 8)}`,
    asset: 'BTC',
    fiatCurrency: 'USD',
    price: '50000.00',
    amount: '0.10000000',
    paymentMethod: 'SEPA',
    paymentWindowMinutes: 30,
    sellerFunding: 'AVAILABLE',
    // Caps no test reaches unless it means to (the cap tests set their own); 0 cancels: nobody is ever suspended.
    buyerTradesMax: 10_000,
    buyerCancelsMax: 0,
    ...overrides,
  };
}

/** A SELL order's hold as order-book sends it to place_sell_holds. */
export function sellHold(userId: string, asset: Asset, amount: string, orderId: string = randomUUID()): SellHold {
  return { orderId, userId, asset, amount };
}

/** Calls open_trades as order-book does (inside a transaction of the caller's; here one of its own). */
export async function openTrades(
  h: Harness,
  openings: TradeOpening[],
  db: SqlRunner = h.runtime.db,
): Promise<LedgerOutcome[]> {
  const [row] = await db.query<{ outcomes: unknown }>(`SELECT ${openTradesExpression('$1')} AS outcomes`, [
    tradeOpeningsJson(openings),
  ]);
  return ledgerOutcomes(row!.outcomes, openings.length, 'open_trades');
}

/** Calls place_sell_holds as order-book does when SELL orders come in. */
export async function placeSellHolds(
  h: Harness,
  holds: SellHold[],
  db: SqlRunner = h.runtime.db,
): Promise<LedgerOutcome[]> {
  const call = placeSellHoldsCall(holds);
  const [row] = await db.query<{ outcomes: unknown }>(call.sql, call.params);
  return ledgerOutcomes(row!.outcomes, holds.length, 'place_sell_holds');
}

/**
 * Calls release_sell_hold as order-book does when it cancels a SELL order (inside its cancelling transaction;
 * here one of its own): OK, or DUPLICATE when the hold was released before. A release that is not exactly what
 * the hold holds, or of no hold, rejects with the function's SQLSTATE as `code` (23514, P0002, 22023).
 */
export async function releaseSellHold(
  h: Harness,
  release: HoldRelease,
  db: SqlRunner = h.runtime.db,
): Promise<'OK' | 'DUPLICATE'> {
  const call = releaseSellHoldCall(release);
  const [row] = await db.query<{ outcome: unknown }>(call.sql, call.params);
  if (row?.outcome !== 'OK' && row?.outcome !== 'DUPLICATE')
    throw new Error(`release_sell_hold answered ${JSON.stringify(row?.outcome)}`);
  return row.outcome;
}

/** The SQLSTATE a call failed with (undefined when it failed otherwise); a call that succeeds fails the test. */
export async function sqlStateOf(call: Promise<unknown>): Promise<string | undefined> {
  const outcome = await call.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) throw new Error(`expected a failure, got ${JSON.stringify(outcome.value)}`);
  return (outcome.error as { code?: string }).code;
}

/** A funded seller and a trade AWAITING_PAYMENT between them, escrow taken from the seller's AVAILABLE. */
export async function openTrade(h: Harness, overrides: Partial<TradeOpening> = {}): Promise<TradeOpening> {
  const opening = tradeOpening(overrides);
  await fund(h, opening.sellerId, opening.asset, opening.amount);
  const [outcome] = await openTrades(h, [opening]);
  if (outcome !== 'OK') throw new Error(`open_trades answered ${outcome}`);
  return opening;
}

/** Moves a trade's deadline into the past (the expiry re-checks the time); then `h.deadlines.sweepNow()` fires it. */
export async function expireDeadline(h: Harness, tradeId: string): Promise<void> {
  await h.runtime.db.query(`UPDATE trades SET payment_deadline = now() - interval '1 second' WHERE id = $1`, [tradeId]);
}
