-- The outbox relay claims a batch for a while with one statement and marks it published with the next, instead
-- of holding row locks in a transaction across the publish to Redis (four round trips per batch). A row is
-- unpublished while published_at is NULL, and claimed_until says until when a relay is publishing it.
ALTER TABLE "outbox" ADD COLUMN "claimed_until" TIMESTAMPTZ(6);
