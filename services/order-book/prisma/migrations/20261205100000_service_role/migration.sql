-- The service connects as orrange_order_book (created by db:setup, README "Database roles"), not as the migration role that
-- runs this and owns every object here: it may use this schema's tables, sequences and functions, create nothing,
-- and reaches other schemas only through the functions their own migrations grant it.
REVOKE ALL ON SCHEMA "order_book" FROM PUBLIC;
GRANT USAGE ON SCHEMA "order_book" TO orrange_order_book;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "order_book" TO orrange_order_book;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA "order_book" TO orrange_order_book;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA "order_book" TO orrange_order_book;
-- Except Prisma's migration history (present when Prisma runs this, not in the tests' templates): not the service's to write.
DO E'BEGIN IF to_regclass(''"order_book"._prisma_migrations'') IS NOT NULL THEN REVOKE ALL ON "order_book"._prisma_migrations FROM orrange_order_book\073 END IF\073 END';
-- The same for what later migrations (run by the same migration role) create.
ALTER DEFAULT PRIVILEGES IN SCHEMA "order_book" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO orrange_order_book;
ALTER DEFAULT PRIVILEGES IN SCHEMA "order_book" GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO orrange_order_book;
ALTER DEFAULT PRIVILEGES IN SCHEMA "order_book" GRANT EXECUTE ON FUNCTIONS TO orrange_order_book;
