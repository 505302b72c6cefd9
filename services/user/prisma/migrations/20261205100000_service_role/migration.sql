-- The service connects as orrange_user (created by db:setup, README "Database roles"), not as the migration role that
-- runs this and owns every object here: it may use this schema's tables, sequences and functions, create nothing,
-- and reaches other schemas only through the functions their own migrations grant it.
REVOKE ALL ON SCHEMA "users" FROM PUBLIC;
GRANT USAGE ON SCHEMA "users" TO orrange_user;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "users" TO orrange_user;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA "users" TO orrange_user;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA "users" TO orrange_user;
-- Except Prisma's migration history (present when Prisma runs this, not in the tests' templates): not the service's to write.
DO E'BEGIN IF to_regclass(''"users"._prisma_migrations'') IS NOT NULL THEN REVOKE ALL ON "users"._prisma_migrations FROM orrange_user\073 END IF\073 END';
-- The same for what later migrations (run by the same migration role) create.
ALTER DEFAULT PRIVILEGES IN SCHEMA "users" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO orrange_user;
ALTER DEFAULT PRIVILEGES IN SCHEMA "users" GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO orrange_user;
ALTER DEFAULT PRIVILEGES IN SCHEMA "users" GRANT EXECUTE ON FUNCTIONS TO orrange_user;

-- Other services, exactly what they call here (USAGE on the schema lets them name its objects, no table grant).
-- order-book: the payment method types of an order, and the public extras of ads (maker stats, details on file).
-- payment_method_snapshots is called by trade.open_trades, which runs as its owner, so it is granted to nobody.
GRANT USAGE ON SCHEMA "users" TO orrange_order_book, orrange_trade;
GRANT EXECUTE ON FUNCTION "users"."payment_method_types"(text, text[]) TO orrange_order_book;
GRANT EXECUTE ON FUNCTION "users"."maker_public_stats"(text[]) TO orrange_order_book;
GRANT EXECUTE ON FUNCTION "users"."payment_details_on_file"(jsonb) TO orrange_order_book;
-- trade-execution produces events this service consumes (EVENT_ROUTES): its redelivery sweep asks this inbox.
GRANT EXECUTE ON FUNCTION "users"."inbox_confirmed"(uuid[]) TO orrange_trade;
