-- Hand-written. Dispute timers are rows: the evidence window and the assignment timeout are the case's deadline
-- columns, and sweepers fire every due one that has not fired (no delayed job to lose when Redis comes back empty).
-- These partial indexes hold exactly the cases each sweep looks for, so a sweep stays cheap however many cases exist.
CREATE INDEX "disputes_evidence_due_idx" ON "disputes" ("evidence_deadline_at") WHERE "evidence_closed_at" IS NULL AND "status" <> 'RESOLVED';
CREATE INDEX "disputes_assignment_due_idx" ON "disputes" ("assignment_deadline_at") WHERE "escalated_at" IS NULL AND "status" = 'OPEN';
