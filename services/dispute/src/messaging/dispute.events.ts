import type { Tx } from '@orrange/db';
import { enqueueEvent } from '@orrange/queue';
import type { DisputeCase } from '../domain/dispute';

/** The events the dispute service produces, always written to the outbox in the caller's transaction. */
export const disputeEvents = {
  resolved: (tx: Tx, c: DisputeCase) =>
    enqueueEvent(tx, 'dispute.resolved', { disputeId: c.id, tradeId: c.tradeId, outcome: c.outcome!, buyerAmount: c.buyerAmount, resolvedBy: c.resolvedBy! }),
  assigned: (tx: Tx, c: DisputeCase) => enqueueEvent(tx, 'dispute.assigned', { disputeId: c.id, tradeId: c.tradeId, arbitratorId: c.arbitratorId! }),
  escalated: (tx: Tx, c: DisputeCase, reason: 'UNASSIGNED_TOO_LONG' | 'PARTY_SILENT') => enqueueEvent(tx, 'dispute.escalated', { disputeId: c.id, tradeId: c.tradeId, reason }),
};
