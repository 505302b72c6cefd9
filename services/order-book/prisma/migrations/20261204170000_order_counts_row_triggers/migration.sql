-- Hand-written. user_order_counts follows each order's openness with row triggers that fire only when it changes,
-- instead of statement triggers over transition tables on every INSERT and UPDATE of "orders". Every matching
-- write updates its makers (remaining, OPEN to PARTIALLY_FILLED): the statement trigger materialized the old and
-- new rows of each such statement and joined them to find nothing to count. Now an update pays only when an order
-- opens or closes (FILLED, CANCELLED, EXPIRED, REJECTED), and an insert only when it is open. Same counts.
DROP TRIGGER "user_order_counts_on_insert" ON "orders";
DROP TRIGGER "user_order_counts_on_update" ON "orders";
DROP FUNCTION "user_order_counts_inserted"();
DROP FUNCTION "user_order_counts_updated"();

CREATE FUNCTION "order_is_open"(p_status text) RETURNS boolean LANGUAGE sql IMMUTABLE AS E'
  SELECT p_status IN (''PENDING_FUNDS'', ''OPEN'', ''PARTIALLY_FILLED'')
';

CREATE FUNCTION "user_order_counts_follow"() RETURNS trigger LANGUAGE plpgsql AS E'
BEGIN
  INSERT INTO "user_order_counts" AS c ("user_id", "open_orders")
    VALUES (NEW."user_id", CASE WHEN "order_is_open"(NEW."status") THEN 1 ELSE 0 END)
    ON CONFLICT ("user_id") DO UPDATE SET "open_orders" = c."open_orders"
      + CASE WHEN "order_is_open"(NEW."status") THEN 1 ELSE 0 END
      - CASE WHEN TG_OP = ''UPDATE'' AND "order_is_open"(OLD."status") THEN 1 ELSE 0 END\073
  RETURN NULL\073
END
';
ALTER FUNCTION "user_order_counts_follow"() SET search_path = "order_book", pg_temp;
CREATE TRIGGER "user_order_counts_on_insert" AFTER INSERT ON "orders"
  FOR EACH ROW WHEN ("order_is_open"(NEW."status")) EXECUTE FUNCTION "user_order_counts_follow"();
CREATE TRIGGER "user_order_counts_on_update" AFTER UPDATE OF "status" ON "orders"
  FOR EACH ROW WHEN ("order_is_open"(OLD."status") IS DISTINCT FROM "order_is_open"(NEW."status")) EXECUTE FUNCTION "user_order_counts_follow"();
