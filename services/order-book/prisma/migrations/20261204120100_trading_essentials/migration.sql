-- Trading essentials (API.md): fiat limits per trade, expiry, pause, the owner's merchant role at placing (its
-- limits), the EXPIRED status, and a count of each user's open orders kept by triggers, so that ORDERS_OPEN_MAX is
-- checked in the first statement of a placement (no count over a user's orders per placement).
ALTER TABLE "orders" ADD COLUMN "min_fiat" DECIMAL(38,2),
  ADD COLUMN "max_fiat" DECIMAL(38,2),
  ADD COLUMN "expires_at" TIMESTAMPTZ(6),
  ADD COLUMN "paused" BOOLEAN NOT NULL DEFAULT false,
  ADD COLUMN "merchant" BOOLEAN NOT NULL DEFAULT false;

ALTER TABLE "orders" DROP CONSTRAINT "orders_status_check";
ALTER TABLE "orders" ADD CONSTRAINT "orders_status_check" CHECK (status IN ('PENDING_FUNDS', 'OPEN', 'PARTIALLY_FILLED', 'FILLED', 'CANCELLED', 'REJECTED', 'EXPIRED'));
-- A paused order keeps its status but is out of the book and of matching.
ALTER TABLE "orders" DROP CONSTRAINT "orders_live_check";
ALTER TABLE "orders" ADD CONSTRAINT "orders_live_check" CHECK (live = (status IN ('OPEN', 'PARTIALLY_FILLED') AND NOT paused));
ALTER TABLE "orders" ADD CONSTRAINT "orders_fiat_limits_check" CHECK ((min_fiat IS NULL OR min_fiat > 0) AND (max_fiat IS NULL OR max_fiat > 0) AND (min_fiat IS NULL OR max_fiat IS NULL OR min_fiat <= max_fiat));

-- Orders that may expire, by when (the expiry sweeper's index).
CREATE INDEX "orders_expiry_idx" ON "orders" ("expires_at") WHERE "expires_at" IS NOT NULL AND "status" IN ('PENDING_FUNDS', 'OPEN', 'PARTIALLY_FILLED');

-- Open orders per user: PENDING_FUNDS, OPEN or PARTIALLY_FILLED (paused ones included).
CREATE TABLE "user_order_counts" (
    "user_id" TEXT NOT NULL,
    "open_orders" INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT "user_order_counts_pkey" PRIMARY KEY ("user_id"),
    CONSTRAINT "user_order_counts_open_orders_check" CHECK ("open_orders" >= 0)
);
INSERT INTO "user_order_counts" ("user_id", "open_orders")
  SELECT "user_id", count(*)::int FROM "orders" WHERE "status" IN ('PENDING_FUNDS', 'OPEN', 'PARTIALLY_FILLED') GROUP BY "user_id";

-- Statement-level triggers: a matching write inserts and fills many orders in one statement, and pays one upsert
-- (or update) per user it touched, not one per order.
CREATE FUNCTION "user_order_counts_inserted"() RETURNS trigger LANGUAGE plpgsql AS E'
BEGIN
  INSERT INTO "user_order_counts" ("user_id", "open_orders")
    SELECT n."user_id", count(*)::int FROM "new_orders" n WHERE n."status" IN (''PENDING_FUNDS'', ''OPEN'', ''PARTIALLY_FILLED'') GROUP BY n."user_id" ORDER BY 1
    ON CONFLICT ("user_id") DO UPDATE SET "open_orders" = "user_order_counts"."open_orders" + EXCLUDED."open_orders"\073
  RETURN NULL\073
END
';
CREATE TRIGGER "user_order_counts_on_insert" AFTER INSERT ON "orders" REFERENCING NEW TABLE AS "new_orders"
  FOR EACH STATEMENT EXECUTE FUNCTION "user_order_counts_inserted"();

CREATE FUNCTION "user_order_counts_updated"() RETURNS trigger LANGUAGE plpgsql AS E'
BEGIN
  UPDATE "user_order_counts" c SET "open_orders" = c."open_orders" + d."delta"
  FROM (SELECT n."user_id", sum((n."status" IN (''PENDING_FUNDS'', ''OPEN'', ''PARTIALLY_FILLED''))::int - (o."status" IN (''PENDING_FUNDS'', ''OPEN'', ''PARTIALLY_FILLED''))::int) AS "delta"
        FROM "new_orders" n JOIN "old_orders" o ON o."id" = n."id" WHERE n."status" <> o."status" GROUP BY n."user_id") d
  WHERE c."user_id" = d."user_id" AND d."delta" <> 0\073
  RETURN NULL\073
END
';
CREATE TRIGGER "user_order_counts_on_update" AFTER UPDATE ON "orders" REFERENCING OLD TABLE AS "old_orders" NEW TABLE AS "new_orders"
  FOR EACH STATEMENT EXECUTE FUNCTION "user_order_counts_updated"();
ALTER FUNCTION "user_order_counts_inserted"() SET search_path = "order_book", pg_temp;
ALTER FUNCTION "user_order_counts_updated"() SET search_path = "order_book", pg_temp;
