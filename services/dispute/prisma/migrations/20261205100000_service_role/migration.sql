-- The service connects as orrange_dispute (created by db:setup, README "Database roles"), not as the migration role that
-- runs this and owns every object here: it may use this schema's tables, sequences and functions, create nothing,
-- and reaches other schemas only through the functions their own migrations grant it.
REVOKE ALL ON SCHEMA "dispute" FROM PUBLIC;
GRANT USAGE ON SCHEMA "dispute" TO orrange_dispute;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "dispute" TO orrange_dispute;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA "dispute" TO orrange_dispute;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA "dispute" TO orrange_dispute;
-- Except Prisma's migration history (present when Prisma runs this, not in the tests' templates): not the service's to write.
DO E'BEGIN IF to_regclass(''"dispute"._prisma_migrations'') IS NOT NULL THEN REVOKE ALL ON "dispute"._prisma_migrations FROM orrange_dispute\073 END IF\073 END';
-- The same for what later migrations (run by the same migration role) create.
ALTER DEFAULT PRIVILEGES IN SCHEMA "dispute" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO orrange_dispute;
ALTER DEFAULT PRIVILEGES IN SCHEMA "dispute" GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO orrange_dispute;
ALTER DEFAULT PRIVILEGES IN SCHEMA "dispute" GRANT EXECUTE ON FUNCTIONS TO orrange_dispute;

-- trade-execution produces events this service consumes (trade.disputed, trade.resolved): its redelivery sweep asks this inbox.
GRANT USAGE ON SCHEMA "dispute" TO orrange_trade;
GRANT EXECUTE ON FUNCTION "dispute"."inbox_confirmed"(uuid[]) TO orrange_trade;
