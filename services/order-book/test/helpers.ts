import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { Express } from 'express';
import { IDENTITY_HEADER, signIdentity } from '@orrange/http';
import type { EventType } from '@orrange/queue';
import type { Runtime } from '@orrange/runtime';

/** Small factories for component tests: act as a user, place orders, deliver trade-execution's answers. */
export function actors(runtime: Runtime, app: Express) {
  const secret = runtime.config.INTERNAL_TOKEN_SECRET;
  const as = (userId: string) => ({ [IDENTITY_HEADER]: signIdentity({ userId, roles: ['user'], scopes: null, via: 'jwt' }, secret) });
  const deliver = (type: EventType, payload: unknown, id: string = randomUUID()) =>
    runtime.consumer!.apply({ id, type, occurredAt: new Date().toISOString(), payload });
  /**
   * Delivers hold.placed events the way the queue does under load: a first event (for an order nobody knows)
   * starts a group, and all of these arrive while it runs, so they share the next transaction and one bulk call.
   */
  const deliverHoldsTogether = async (holds: Array<{ orderId: string; eventId?: string }>) => {
    const grouped = (orderId: string, id: string = randomUUID()) =>
      runtime.consumer!.apply({ id, type: 'hold.placed', occurredAt: new Date().toISOString(), payload: { orderId } }, false);
    const opener = grouped(randomUUID());
    const outcomes = Promise.all(holds.map((h) => grouped(h.orderId, h.eventId)));
    await opener;
    return outcomes;
  };
  const place = (userId: string, body: Record<string, unknown>) =>
    request(app).post('/api/v1/orders').set(as(userId)).send({ side: 'BUY', asset: 'BTC', fiatCurrency: 'USD', price: '100.00', amount: '1', paymentMethods: ['SEPA'], ...body });
  /** A SELL order whose hold trade-execution confirmed: OPEN (and matched) in the book. */
  const placeFundedSell = async (userId: string, body: Record<string, unknown> = {}) => {
    const res = await place(userId, { side: 'SELL', ...body });
    if (res.status !== 201) throw new Error(`place failed: ${res.status} ${JSON.stringify(res.body)}`);
    await deliver('hold.placed', { orderId: res.body.order.id });
    return res.body.order.id as string;
  };
  return { as, deliver, deliverHoldsTogether, place, placeFundedSell };
}

/**
 * What must hold in the book whatever happened: every order's fills (as maker or taker, ACTIVE matches) add up
 * to what it lost of its amount, so no maker was ever over-filled; every match has its order.matched event with
 * the same parties, price and amount (and no event lacks its match); nobody trades with themselves. Returns
 * the violations, for a readable failure.
 */
export async function bookInvariantViolations(db: Pick<Runtime['db'], 'query'>): Promise<string[]> {
  const unbalanced = await db.query<{ id: string }>(
    `SELECT o.id FROM orders o
     WHERE o.amount - o.remaining <> (SELECT COALESCE(sum(amount), 0) FROM matches m WHERE m.status = 'ACTIVE' AND o.id IN (m.maker_order_id, m.taker_order_id))
       OR o.remaining < 0`,
  );
  const unannounced = await db.query<{ id: string }>(
    `SELECT m.id FROM matches m WHERE (SELECT count(*) FROM outbox e WHERE e.type = 'order.matched' AND e.payload->>'matchId' = m.id::text
       AND e.payload->>'buyerId' = m.buyer_id AND e.payload->>'sellerId' = m.seller_id AND (e.payload->>'amount')::numeric = m.amount
       AND (e.payload->>'price')::numeric = m.price AND e.payload->>'tradeId' = m.trade_id::text) <> 1`,
  );
  const unmatched = await db.query<{ id: string }>(
    `SELECT e.id FROM outbox e WHERE e.type = 'order.matched' AND NOT EXISTS (SELECT 1 FROM matches m WHERE m.id::text = e.payload->>'matchId')`,
  );
  const selfTrades = await db.query<{ id: string }>('SELECT id FROM matches WHERE buyer_id = seller_id');
  return [
    ...unbalanced.map((r) => `order ${r.id}: fills do not add up to its amount minus its remainder`),
    ...unannounced.map((r) => `match ${r.id}: not exactly one order.matched event that agrees with it`),
    ...unmatched.map((r) => `event ${r.id}: order.matched without its match`),
    ...selfTrades.map((r) => `match ${r.id}: buyer and seller are the same user`),
  ];
}
