import { randomUUID } from 'node:crypto';
import { signIdentity, IDENTITY_HEADER, type Role } from '@orrange/http';
import type { EventPayload } from '@orrange/queue';
import type { Harness } from './harness';

/** Headers that make a request come from this user, as the gateway would forward it. */
export function as(harness: Harness, userId: string, roles: Role[] = ['user']): Record<string, string> {
  return {
    [IDENTITY_HEADER]: signIdentity(
      { userId, roles, scopes: null, via: 'jwt' },
      harness.runtime.config.INTERNAL_TOKEN_SECRET,
    ),
  };
}

export function disputedEvent(overrides: Partial<EventPayload<'trade.disputed'>> = {}) {
  const buyerId = `buyer-${randomUUID().slice(0, 8)}`;
  const payload: EventPayload<'trade.disputed'> = {
    tradeId: randomUUID(),
    disputeId: randomUUID(),
    openedBy: buyerId,
    reason: 'I paid, the seller does not release',
    buyerId,
    sellerId: `seller-${randomUUID().slice(0, 8)}`,
    asset: 'BTC',
    amount: '0.015',
    fiatCurrency: 'USD',
    fiatAmount: '963.75',
    ...overrides,
  };
  return { id: randomUUID(), type: 'trade.disputed' as const, occurredAt: new Date().toISOString(), payload };
}

/** Opens a case the way production does: trade-execution's event applied by the idempotent consumer. */
export async function openDispute(harness: Harness, overrides: Partial<EventPayload<'trade.disputed'>> = {}) {
  const event = disputedEvent(overrides);
  await harness.runtime.consumer!.apply(event);
  return event.payload;
}

export async function outboxRows(harness: Harness, type: string, disputeId: string) {
  return harness.runtime.db.query<{ payload: Record<string, unknown>; deliver_at: Date | null }>(
    "SELECT payload, deliver_at FROM outbox WHERE type = $1 AND payload->>'disputeId' = $2 ORDER BY seq",
    [type, disputeId],
  );
}
