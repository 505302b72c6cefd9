-- Hand-written. Delivery is confirmed by the consumer, not by the hand-over to Redis (a Redis that restarts empty
-- or is flushed loses jobs the relay already marked published). confirmed_at: every consumer of the event has it
-- in its inbox (events nobody consumes are confirmed when published). recheck_at and redeliveries: the redelivery
-- sweep's schedule for a row it found unconfirmed, and how often it published the row again. Rows that exist now
-- are checked once by the sweep: events lost before this version are found and published again too.
ALTER TABLE "outbox" ADD COLUMN "confirmed_at" TIMESTAMPTZ(6),
  ADD COLUMN "recheck_at" TIMESTAMPTZ(6),
  ADD COLUMN "redeliveries" INTEGER NOT NULL DEFAULT 0;

-- Published rows the sweep has not looked at, by when they could first be consumed, and rows it re-checks, by when.
-- Both partial: in steady state they hold about one bound's worth of events.
CREATE INDEX "outbox_unchecked_idx" ON "outbox" ((greatest("published_at", "deliver_at"))) WHERE "confirmed_at" IS NULL AND "recheck_at" IS NULL AND "published_at" IS NOT NULL;
CREATE INDEX "outbox_recheck_idx" ON "outbox" ("recheck_at") WHERE "confirmed_at" IS NULL AND "recheck_at" IS NOT NULL;

-- How a producer learns what this service received: which of these event ids its inbox holds. Producers call it
-- in one round trip per sweep: they see one function, never the inbox table. It runs as its owner on this schema
-- whoever calls it. EXECUTE is taken from PUBLIC: today every service connects as the owner of all schemas, and once
-- each service has a role of its own, the roles of the services that produce events for this one get EXECUTE.
CREATE FUNCTION "inbox_confirmed"(event_ids uuid[]) RETURNS SETOF uuid LANGUAGE sql STABLE SECURITY DEFINER SET search_path = "dispute", pg_temp
  AS 'SELECT DISTINCT event_id FROM inbox WHERE event_id = ANY(event_ids)';
REVOKE ALL ON FUNCTION "inbox_confirmed"(uuid[]) FROM PUBLIC;
