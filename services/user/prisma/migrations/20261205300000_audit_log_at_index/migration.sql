-- The audit log's retention (AUDIT_LOG_RETENTION_DAYS) deletes its oldest rows in batches: found through this
-- index instead of a scan of the whole log at every sweep.
CREATE INDEX "audit_log_at_idx" ON "audit_log"("at");
