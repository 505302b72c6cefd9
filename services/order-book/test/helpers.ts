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
  const place = (userId: string, body: Record<string, unknown>) =>
    request(app).post('/api/v1/orders').set(as(userId)).send({ side: 'BUY', asset: 'BTC', fiatCurrency: 'USD', price: '100.00', amount: '1', paymentMethods: ['SEPA'], ...body });
  /** A SELL order whose hold trade-execution confirmed: OPEN (and matched) in the book. */
  const placeFundedSell = async (userId: string, body: Record<string, unknown> = {}) => {
    const res = await place(userId, { side: 'SELL', ...body });
    if (res.status !== 201) throw new Error(`place failed: ${res.status} ${JSON.stringify(res.body)}`);
    await deliver('hold.placed', { orderId: res.body.order.id });
    return res.body.order.id as string;
  };
  return { as, deliver, place, placeFundedSell };
}
