import type { SqlRunner } from '@orrange/db';
import { enqueueEvent } from '@orrange/queue';
import type { DisputeCase } from './dispute';

/**
 * The events the dispute service produces, always written to the outbox in the caller's transaction (part of the
 * change they announce, as trade-execution's use cases write theirs).
 */
export const disputeEvents = {
  resolved: (tx: SqlRunner, disputeCase: DisputeCase) =>
    enqueueEvent(tx, 'dispute.resolved', {
      disputeId: disputeCase.id,
      tradeId: disputeCase.tradeId,
      outcome: disputeCase.outcome!,
      buyerAmount: disputeCase.buyerAmount,
      resolvedBy: disputeCase.resolvedBy!,
    }),
  assigned: (tx: SqlRunner, disputeCase: DisputeCase) =>
    enqueueEvent(tx, 'dispute.assigned', {
      disputeId: disputeCase.id,
      tradeId: disputeCase.tradeId,
      arbitratorId: disputeCase.arbitratorId!,
    }),
  escalated: (tx: SqlRunner, disputeCase: DisputeCase, reason: 'UNASSIGNED_TOO_LONG' | 'PARTY_SILENT') =>
    enqueueEvent(tx, 'dispute.escalated', { disputeId: disputeCase.id, tradeId: disputeCase.tradeId, reason }),
};
