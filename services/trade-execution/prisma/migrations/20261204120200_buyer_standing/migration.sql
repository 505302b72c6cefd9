-- Hand-written. Abuse limits on buyers (API.md "Trading essentials"): how many trades each buyer has open, and when
-- their last trades were cancelled or expired, kept in one row per buyer by triggers on "trades", so that order-book
-- checks a buyer in the statements it sends anyway (no count over a buyer's trades, no extra round trip).
-- recent_cancels holds the times of the buyer's last cancelled or expired trades, oldest first, at most
-- BUYER_CANCELS_KEPT_MAX (20, the most BUYER_CANCELS_MAX may be). A buyer is suspended while the last N of them
-- (N = BUYER_CANCELS_MAX, the caller's) lie within 24 h of each other, until 24 h after the last.
CREATE TABLE "buyer_standing" (
    "user_id" TEXT NOT NULL,
    "open_trades" INTEGER NOT NULL DEFAULT 0,
    "recent_cancels" TIMESTAMPTZ(6)[] NOT NULL DEFAULT '{}',
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT now(),
    CONSTRAINT "buyer_standing_pkey" PRIMARY KEY ("user_id"),
    CONSTRAINT "buyer_standing_open_trades_check" CHECK ("open_trades" >= 0),
    CONSTRAINT "buyer_standing_recent_cancels_check" CHECK (cardinality("recent_cancels") <= 20)
);

INSERT INTO "buyer_standing" ("user_id", "open_trades", "recent_cancels")
  SELECT t."buyer_id",
         count(*) FILTER (WHERE t."status" IN ('AWAITING_PAYMENT', 'PAID', 'DISPUTED'))::int,
         coalesce((SELECT array_agg(c."at" ORDER BY c."at") FROM (
           SELECT coalesce(x."closed_at", x."updated_at") AS "at" FROM "trades" x WHERE x."buyer_id" = t."buyer_id" AND x."status" = 'CANCELLED'
           ORDER BY 1 DESC LIMIT 20) c), '{}')
  FROM "trades" t GROUP BY t."buyer_id";

-- New trades (open_trades inserts them many at a time): one upsert per buyer per statement.
CREATE FUNCTION "buyer_standing_trades_inserted"() RETURNS trigger LANGUAGE plpgsql AS E'
BEGIN
  INSERT INTO "buyer_standing" ("user_id", "open_trades")
    SELECT n."buyer_id", count(*)::int FROM "new_trades" n WHERE n."status" IN (''AWAITING_PAYMENT'', ''PAID'', ''DISPUTED'') GROUP BY n."buyer_id" ORDER BY 1
    ON CONFLICT ("user_id") DO UPDATE SET "open_trades" = "buyer_standing"."open_trades" + EXCLUDED."open_trades", "updated_at" = now()\073
  RETURN NULL\073
END
';
CREATE TRIGGER "buyer_standing_on_insert" AFTER INSERT ON "trades" REFERENCING NEW TABLE AS "new_trades"
  FOR EACH STATEMENT EXECUTE FUNCTION "buyer_standing_trades_inserted"();

-- A trade changes status (one at a time, under its row lock): an open trade that closes counts down, and a
-- cancelled or expired one (both end CANCELLED) joins the buyer's recent cancels.
CREATE FUNCTION "buyer_standing_trade_changed"() RETURNS trigger LANGUAGE plpgsql AS E'
DECLARE
  v_delta integer\073
BEGIN
  v_delta := (NEW."status" IN (''AWAITING_PAYMENT'', ''PAID'', ''DISPUTED''))::int - (OLD."status" IN (''AWAITING_PAYMENT'', ''PAID'', ''DISPUTED''))::int\073
  IF v_delta = 0 AND NEW."status" <> ''CANCELLED'' THEN
    RETURN NULL\073
  END IF\073
  INSERT INTO "buyer_standing" AS b ("user_id", "open_trades", "recent_cancels")
    VALUES (NEW."buyer_id", greatest(v_delta, 0), CASE WHEN NEW."status" = ''CANCELLED'' THEN ARRAY[now()] ELSE ''{}'' END)
    ON CONFLICT ("user_id") DO UPDATE SET
      "open_trades" = b."open_trades" + v_delta,
      "recent_cancels" = CASE WHEN NEW."status" = ''CANCELLED''
        THEN (b."recent_cancels" || now())[greatest(1, cardinality(b."recent_cancels") - 18):]
        ELSE b."recent_cancels" END,
      "updated_at" = now()\073
  RETURN NULL\073
END
';
CREATE TRIGGER "buyer_standing_on_status" AFTER UPDATE OF "status" ON "trades"
  FOR EACH ROW WHEN (OLD."status" IS DISTINCT FROM NEW."status") EXECUTE FUNCTION "buyer_standing_trade_changed"();
ALTER FUNCTION "buyer_standing_trades_inserted"() SET search_path = "trade", pg_temp;
ALTER FUNCTION "buyer_standing_trade_changed"() SET search_path = "trade", pg_temp;

-- Until when the buyer is suspended, given their recent cancels: while the last p_cancels_max of them lie within
-- 24 h of each other, until 24 h after the last, null when not suspended now.
CREATE FUNCTION "buyer_suspended_until"(p_recent timestamptz[], p_cancels_max integer) RETURNS timestamptz LANGUAGE sql STABLE AS E'
  SELECT CASE WHEN cardinality(p_recent) >= p_cancels_max AND p_cancels_max > 0
                AND p_recent[cardinality(p_recent)] - p_recent[cardinality(p_recent) - p_cancels_max + 1] <= interval ''24 hours''
                AND p_recent[cardinality(p_recent)] + interval ''24 hours'' > now()
              THEN p_recent[cardinality(p_recent)] + interval ''24 hours'' END
';

-- What order-book checks before a buyer's order or take opens trades: open trades and suspension of each buyer
-- (buyers without a row have neither).
CREATE FUNCTION "buyer_standing"(p_user_ids text[], p_cancels_max integer)
  RETURNS TABLE ("user_id" text, "open_trades" integer, "suspended_until" timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = "trade", pg_temp AS E'
  SELECT b."user_id", b."open_trades", "buyer_suspended_until"(b."recent_cancels", p_cancels_max) FROM "buyer_standing" b WHERE b."user_id" = ANY(p_user_ids)
';

-- How many more trades a buyer may open now: 0 while suspended, else what their limit leaves (read per resting BUY
-- order that an incoming SELL could match).
CREATE FUNCTION "buyer_room"(p_user_id text, p_trades_max integer, p_cancels_max integer) RETURNS integer
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = "trade", pg_temp AS E'
  SELECT coalesce((SELECT CASE WHEN "buyer_suspended_until"(b."recent_cancels", p_cancels_max) IS NOT NULL THEN 0 ELSE greatest(p_trades_max - b."open_trades", 0) END
                   FROM "buyer_standing" b WHERE b."user_id" = p_user_id), greatest(p_trades_max, 0))
';
REVOKE ALL ON FUNCTION "buyer_standing"(text[], integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION "buyer_room"(text, integer, integer) FROM PUBLIC;
