import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { Asset } from '@orrange/money';
import type { EventPayload } from '@orrange/queue';
import type { Harness } from './harness';

export const ADMIN = 'admin-1';

export async function fund(h: Harness, userId: string, asset: Asset, amount: string): Promise<void> {
  const res = await request(h.app).post('/api/v1/wallet/deposits').set(h.as(userId)).send({ asset, amount });
  if (res.status !== 201) throw new Error(`deposit failed: ${res.status} ${JSON.stringify(res.body)}`);
}

export async function balance(h: Harness, userId: string, asset: Asset): Promise<{ available: string; held: string; inEscrow: string }> {
  const res = await request(h.app).get('/api/v1/wallet/balances').set(h.as(userId));
  return res.body.data.find((b: { asset: string }) => b.asset === asset);
}

export async function verify(h: Harness): Promise<{ ok: boolean; assets: Array<{ asset: string; sum: string; negativeAccounts: number }> }> {
  const res = await request(h.app).get('/api/v1/admin/ledger/verify').set(h.as(ADMIN, ['admin']));
  if (res.status !== 200) throw new Error(`verify failed: ${res.status}`);
  return res.body;
}

export async function outboxOf(h: Harness, type: string): Promise<Array<Record<string, unknown>>> {
  const rows = await h.runtime.db.query<{ payload: Record<string, unknown> }>('SELECT payload FROM outbox WHERE type = $1 ORDER BY seq', [type]);
  return rows.map((r) => r.payload);
}

export function matchEvent(overrides: Partial<EventPayload<'order.matched'>> = {}): EventPayload<'order.matched'> {
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
    ...overrides,
  };
}

/** A funded seller and a trade AWAITING_PAYMENT between them, escrow taken from the seller's AVAILABLE. */
export async function openTrade(h: Harness, overrides: Partial<EventPayload<'order.matched'>> = {}): Promise<EventPayload<'order.matched'>> {
  const event = matchEvent(overrides);
  await fund(h, event.sellerId, event.asset, event.amount);
  await h.deliver('order.matched', event);
  return event;
}

/** Moves a trade's deadline into the past (the timer re-checks the time). */
export async function expireDeadline(h: Harness, tradeId: string): Promise<void> {
  await h.runtime.db.query(`UPDATE trades SET payment_deadline = now() - interval '1 second' WHERE id = $1`, [tradeId]);
}
