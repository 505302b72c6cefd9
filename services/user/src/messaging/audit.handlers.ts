import type { EventHandlers } from '@orrange/queue';
import { insertAuditSql } from '../data/audit.repository';

/**
 * Admin actions taken in other services that belong in the one audit log (`GET /admin/audit`). Each runs in the
 * consumer's transaction with its inbox row, so a redelivered event writes no second row. SQL: the consumer's
 * transaction is the pg pool's, for the reputation writes beside these (stats.repository.ts says why).
 */
export function auditHandlers(): EventHandlers {
  return {
    'withdrawal.reviewed': async ({ payload }, tx) => {
      await insertAuditSql(
        tx,
        { actorId: payload.reviewedBy, ip: null, requestId: payload.requestId },
        {
          action: payload.decision === 'APPROVED' ? 'withdrawal.approved' : 'withdrawal.rejected',
          targetId: payload.withdrawalId,
          metadata: { userId: payload.userId, asset: payload.asset, amount: payload.amount, note: payload.note },
        },
      );
    },
  };
}
