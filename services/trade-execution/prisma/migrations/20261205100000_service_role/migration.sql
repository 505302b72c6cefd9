-- The service connects as orrange_trade (created by db:setup, README "Database roles"), not as the migration role that
-- runs this and owns every object here: it may use this schema's tables, sequences and functions, create nothing,
-- and reaches other schemas only through the functions their own migrations grant it.
REVOKE ALL ON SCHEMA "trade" FROM PUBLIC;
GRANT USAGE ON SCHEMA "trade" TO orrange_trade;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "trade" TO orrange_trade;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA "trade" TO orrange_trade;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA "trade" TO orrange_trade;
-- Except Prisma's migration history (present when Prisma runs this, not in the tests' templates): not the service's to write.
DO E'BEGIN IF to_regclass(''"trade"._prisma_migrations'') IS NOT NULL THEN REVOKE ALL ON "trade"._prisma_migrations FROM orrange_trade\073 END IF\073 END';
-- The same for what later migrations (run by the same migration role) create.
ALTER DEFAULT PRIVILEGES IN SCHEMA "trade" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO orrange_trade;
ALTER DEFAULT PRIVILEGES IN SCHEMA "trade" GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO orrange_trade;
ALTER DEFAULT PRIVILEGES IN SCHEMA "trade" GRANT EXECUTE ON FUNCTIONS TO orrange_trade;

-- The ledger's balance check is a deferred trigger: it fires at the commit of whoever posted the journal, outside the
-- SECURITY DEFINER function that posted it, so as order-book's role on the order path. It reads only this schema's
-- entries, as their owner, like the functions that post them (search_path already pinned by order_path_functions).
ALTER FUNCTION "trade"."entries_journal_balanced"() SECURITY DEFINER;
REVOKE ALL ON FUNCTION "trade"."entries_journal_balanced"() FROM PUBLIC;

-- Other services, exactly what they call here (USAGE on the schema lets them name its objects, no table grant).
-- order-book: the ledger and limit functions of the order path, inside its own transactions (README, "The order path").
GRANT USAGE ON SCHEMA "trade" TO orrange_order_book, orrange_dispute;
GRANT EXECUTE ON FUNCTION "trade"."place_sell_holds"(jsonb) TO orrange_order_book;
GRANT EXECUTE ON FUNCTION "trade"."open_trades"(jsonb) TO orrange_order_book;
GRANT EXECUTE ON FUNCTION "trade"."release_sell_hold"(text, text, text, numeric) TO orrange_order_book;
GRANT EXECUTE ON FUNCTION "trade"."adjust_sell_hold"(text, text, text, numeric, numeric, uuid) TO orrange_order_book;
GRANT EXECUTE ON FUNCTION "trade"."buyer_standing"(text[], integer) TO orrange_order_book;
GRANT EXECUTE ON FUNCTION "trade"."buyer_room"(text, integer, integer) TO orrange_order_book;
-- dispute produces events this service consumes (dispute.resolved, dispute.assigned): its redelivery sweep asks this inbox.
GRANT EXECUTE ON FUNCTION "trade"."inbox_confirmed"(uuid[]) TO orrange_dispute;
