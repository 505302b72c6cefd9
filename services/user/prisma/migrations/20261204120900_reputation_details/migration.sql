-- Reputation details (API.md "Trading essentials"): distinct counterparties, average pay and release times, and the
-- completion rate of the last 30 days, kept by the reputation consumer. Only trades at or above the fiat currency's
-- REPUTATION_MIN_FIAT count as completed, so two accounts cannot farm reputation with dust trades between them.
ALTER TABLE "user_stats" ADD COLUMN "distinct_counterparties" INTEGER NOT NULL DEFAULT 0,
  ADD COLUMN "pay_seconds_sum" BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN "pays_counted" INTEGER NOT NULL DEFAULT 0,
  ADD COLUMN "release_seconds_sum" BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN "releases_counted" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE "user_stats" ADD CONSTRAINT "user_stats_details_non_negative" CHECK ("distinct_counterparties" >= 0 AND "pay_seconds_sum" >= 0 AND "pays_counted" >= 0 AND "release_seconds_sum" >= 0 AND "releases_counted" >= 0);

-- Who traded with whom (a completed trade that counts): the first trade of a pair raises both parties' count.
CREATE TABLE "user_counterparties" (
    "user_id" UUID NOT NULL,
    "counterparty_id" UUID NOT NULL,
    "first_trade_at" TIMESTAMPTZ(6) NOT NULL DEFAULT now(),
    CONSTRAINT "user_counterparties_pkey" PRIMARY KEY ("user_id", "counterparty_id")
);

-- Completed and cancelled trades per user and day: the 30-day completion rate sums at most 31 rows.
CREATE TABLE "user_trade_days" (
    "user_id" UUID NOT NULL,
    "day" DATE NOT NULL,
    "completed" INTEGER NOT NULL DEFAULT 0,
    "cancelled" INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT "user_trade_days_pkey" PRIMARY KEY ("user_id", "day"),
    CONSTRAINT "user_trade_days_non_negative" CHECK ("completed" >= 0 AND "cancelled" >= 0)
);

-- Makers' public stats for order-book's public reads of ads (GET /orders): username, completed trades, completion
-- rate (4 decimals, rounded down, null before any finished trade), average release time in whole seconds (null
-- before any). Ids that are not users' are left out. Runs as its owner on this schema (EXECUTE taken from PUBLIC).
CREATE FUNCTION "maker_public_stats"(p_ids text[])
  RETURNS TABLE ("id" uuid, "username" text, "trades_completed" integer, "completion_rate" text, "avg_release_seconds" bigint)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = "users", pg_temp AS E'
  SELECT u."id", u."username", coalesce(s."trades_completed", 0),
         CASE WHEN coalesce(s."trades_completed", 0) + coalesce(s."trades_cancelled", 0) = 0 THEN NULL
              ELSE trunc(s."trades_completed"::numeric / (s."trades_completed" + s."trades_cancelled"), 4)::text END,
         CASE WHEN coalesce(s."releases_counted", 0) = 0 THEN NULL ELSE s."release_seconds_sum" / s."releases_counted" END
  FROM "users" u LEFT JOIN "user_stats" s ON s."user_id" = u."id"
  WHERE u."id" = ANY (ARRAY(SELECT x::uuid FROM unnest(p_ids) AS x WHERE x ~ ''^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$''))
';
REVOKE ALL ON FUNCTION "maker_public_stats"(text[]) FROM PUBLIC;
