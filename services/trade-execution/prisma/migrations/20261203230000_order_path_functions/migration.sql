-- Hand-written. The order path in one commit: order-book calls these functions inside its own transaction, so
-- a SELL order is held, opened and matched, and every match has its trade with the escrow locked, in the
-- transaction that writes the order (no queue hop, no window where a match exists without its escrow), and a
-- cancelled SELL's hold is released in the transaction that cancels it.
-- trade-execution still owns every table they write: order-book sees three function signatures, not tables.
-- They run as their owner (SECURITY DEFINER) on this schema's search_path whoever calls them, so a caller's
-- search_path cannot redirect a table name. EXECUTE is taken from PUBLIC: today every service connects as the
-- owner of all schemas. Once each service has a role of its own, order-book's role is the one granted EXECUTE.

-- How long one minute of a payment window lasts (60000 except in tests): the trade-execution service writes
-- its PAYMENT_MINUTE_MS here at boot, so the deadlines set by open_trades follow its configuration.
CREATE TABLE "settings" (
    "id" BOOLEAN NOT NULL DEFAULT true,
    "payment_minute_ms" INTEGER NOT NULL DEFAULT 60000,
    CONSTRAINT "settings_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "settings_one_row" CHECK ("id"),
    CONSTRAINT "settings_payment_minute_positive" CHECK ("payment_minute_ms" > 0)
);
INSERT INTO "settings" DEFAULT VALUES;

-- The payment-deadline sweeper finds due trades here (timers are rows: no delayed job to lose).
CREATE INDEX "trades_payment_due_idx" ON "trades" ("payment_deadline") WHERE "status" = 'AWAITING_PAYMENT';

-- How many decimals an amount of each asset may carry (the same table as @orrange/money's ASSET_SCALES): an
-- amount finer than its asset can never be settled exactly, so the functions refuse it like any bad input.
CREATE FUNCTION "asset_scale"(p_asset text) RETURNS integer LANGUAGE sql IMMUTABLE AS E'
  SELECT CASE p_asset WHEN ''BTC'' THEN 8 WHEN ''ETH'' THEN 8 WHEN ''USDT'' THEN 6 WHEN ''USDC'' THEN 6 END
';

-- Holds of SELL orders, in order: AVAILABLE(seller) -> HELD(seller, order) for each, through post_journals (which
-- locks every account first, in id order), so of two holds of one seller where only the first fits, the first
-- is placed. p_holds: [{"orderId","userId","asset","amount"}] with positive decimal amounts. Returns one outcome
-- per hold: OK (held, order_holds row PLACED), INSUFFICIENT (nothing written), DUPLICATE (this order was held
-- before: nothing written now).
CREATE FUNCTION "place_sell_holds"(p_holds jsonb) RETURNS text[] LANGUAGE plpgsql SECURITY DEFINER SET search_path = "trade", pg_temp AS E'
DECLARE
  v_outcomes text[]\073
BEGIN
  IF EXISTS (SELECT 1 FROM jsonb_array_elements(p_holds) AS e("doc")
             WHERE e."doc"->>''orderId'' IS NULL OR e."doc"->>''userId'' IS NULL OR "asset_scale"(e."doc"->>''asset'') IS NULL
                OR coalesce((e."doc"->>''amount'')::numeric, 0) <= 0
                OR (e."doc"->>''amount'')::numeric <> round((e."doc"->>''amount'')::numeric, "asset_scale"(e."doc"->>''asset''))) THEN
    RAISE EXCEPTION ''a hold needs an order, a seller, an asset and a positive amount within the asset''''s decimals'' USING ERRCODE = ''22023''\073
  END IF\073
  v_outcomes := "post_journals"((
    SELECT coalesce(jsonb_agg(jsonb_build_object(
      ''id'', md5(''orrange:hold:'' || (e."doc"->>''orderId''))::uuid, ''kind'', ''HOLD'', ''ref'', e."doc"->>''orderId'',
      ''legs'', jsonb_build_array(
        jsonb_build_object(''kind'', ''AVAILABLE'', ''owner'', e."doc"->>''userId'', ''ref'', '''', ''asset'', e."doc"->>''asset'', ''amount'', (-(e."doc"->>''amount'')::numeric)::text),
        jsonb_build_object(''kind'', ''HELD'', ''owner'', e."doc"->>''userId'', ''ref'', e."doc"->>''orderId'', ''asset'', e."doc"->>''asset'', ''amount'', e."doc"->>''amount'')))
      ORDER BY e."n"), ''[]''::jsonb)
    FROM jsonb_array_elements(p_holds) WITH ORDINALITY AS e("doc", "n")))\073
  INSERT INTO "order_holds" ("order_id", "user_id", "asset", "amount", "status")
    SELECT e."doc"->>''orderId'', e."doc"->>''userId'', e."doc"->>''asset'', (e."doc"->>''amount'')::numeric, ''PLACED''
    FROM jsonb_array_elements(p_holds) WITH ORDINALITY AS e("doc", "n")
    WHERE v_outcomes[e."n"] = ''OK''
    ORDER BY 1\073
  RETURN v_outcomes\073
END
';

-- Trades of matches, in order: the amount moves into ESCROW(seller, trade) from the SELL order's hold
-- (sellerFunding HOLD) or from the seller's AVAILABLE (a seller who took a BUY ad), through post_journals. Each
-- match that moved gets its trade AWAITING_PAYMENT with its payment deadline (a row the sweeper watches), its
-- parties marked active this hour, and trade.created in the outbox. p_matches: [{"matchId","tradeId",
-- "buyOrderId","sellOrderId","buyerId","sellerId","asset","fiatCurrency","price","amount","paymentMethod",
-- "paymentWindowMinutes","sellerFunding"}]. Returns one outcome per match: OK, INSUFFICIENT (nothing written)
-- or DUPLICATE (this trade's escrow was locked before: nothing written now).
CREATE FUNCTION "open_trades"(p_matches jsonb) RETURNS text[] LANGUAGE plpgsql SECURITY DEFINER SET search_path = "trade", pg_temp AS E'
DECLARE
  v_outcomes text[]\073
  v_minute_ms integer\073
BEGIN
  IF EXISTS (SELECT 1 FROM jsonb_array_elements(p_matches) AS e("doc")
             WHERE e."doc"->>''matchId'' IS NULL OR e."doc"->>''tradeId'' IS NULL OR e."doc"->>''buyerId'' IS NULL OR e."doc"->>''sellerId'' IS NULL
                OR e."doc"->>''buyerId'' = e."doc"->>''sellerId'' OR e."doc"->>''paymentMethod'' IS NULL OR e."doc"->>''fiatCurrency'' IS NULL
                OR coalesce((e."doc"->>''amount'')::numeric, 0) <= 0 OR coalesce((e."doc"->>''price'')::numeric, 0) <= 0
                OR "asset_scale"(e."doc"->>''asset'') IS NULL
                OR (e."doc"->>''amount'')::numeric <> round((e."doc"->>''amount'')::numeric, "asset_scale"(e."doc"->>''asset''))
                OR (e."doc"->>''price'')::numeric <> round((e."doc"->>''price'')::numeric, 2)
                OR coalesce((e."doc"->>''paymentWindowMinutes'')::int, 0) NOT BETWEEN 1 AND 1440
                OR NOT ((e."doc"->>''sellerFunding'' = ''HOLD'' AND e."doc"->>''sellOrderId'' IS NOT NULL) OR e."doc"->>''sellerFunding'' = ''AVAILABLE'')) THEN
    RAISE EXCEPTION ''a match needs its ids, two different parties, a positive price (in cents) and amount (within the asset''''s decimals), a payment window and a funding source'' USING ERRCODE = ''22023''\073
  END IF\073
  v_outcomes := "post_journals"((
    SELECT coalesce(jsonb_agg(jsonb_build_object(
      ''id'', md5(''orrange:escrow:'' || (e."doc"->>''tradeId''))::uuid, ''kind'', ''ESCROW'', ''ref'', e."doc"->>''tradeId'',
      ''legs'', jsonb_build_array(
        jsonb_build_object(''kind'', CASE e."doc"->>''sellerFunding'' WHEN ''HOLD'' THEN ''HELD'' ELSE ''AVAILABLE'' END, ''owner'', e."doc"->>''sellerId'',
          ''ref'', CASE e."doc"->>''sellerFunding'' WHEN ''HOLD'' THEN e."doc"->>''sellOrderId'' ELSE '''' END,
          ''asset'', e."doc"->>''asset'', ''amount'', (-(e."doc"->>''amount'')::numeric)::text),
        jsonb_build_object(''kind'', ''ESCROW'', ''owner'', e."doc"->>''sellerId'', ''ref'', e."doc"->>''tradeId'', ''asset'', e."doc"->>''asset'', ''amount'', e."doc"->>''amount'')))
      ORDER BY e."n"), ''[]''::jsonb)
    FROM jsonb_array_elements(p_matches) WITH ORDINALITY AS e("doc", "n")))\073
  SELECT s."payment_minute_ms" INTO v_minute_ms FROM "settings" s WHERE s."id"\073

  WITH opened AS (
    SELECT e."doc" AS "d" FROM jsonb_array_elements(p_matches) WITH ORDINALITY AS e("doc", "n") WHERE v_outcomes[e."n"] = ''OK''
  ), created AS (
    INSERT INTO "trades" ("id", "match_id", "buy_order_id", "sell_order_id", "buyer_id", "seller_id", "asset", "fiat_currency", "price", "amount", "fiat_amount",
                          "payment_method", "payment_window_minutes", "status", "escrow_status", "payment_deadline", "created_at", "updated_at")
    SELECT o."d"->>''tradeId'', o."d"->>''matchId'', o."d"->>''buyOrderId'', o."d"->>''sellOrderId'', o."d"->>''buyerId'', o."d"->>''sellerId'',
           o."d"->>''asset'', o."d"->>''fiatCurrency'', (o."d"->>''price'')::numeric, (o."d"->>''amount'')::numeric,
           round((o."d"->>''price'')::numeric * (o."d"->>''amount'')::numeric, 2), o."d"->>''paymentMethod'', (o."d"->>''paymentWindowMinutes'')::int,
           ''AWAITING_PAYMENT'', ''LOCKED'', now() + (o."d"->>''paymentWindowMinutes'')::int * v_minute_ms * interval ''1 millisecond'', now(), now()
    FROM opened o
    RETURNING "id", "match_id", "buyer_id", "seller_id", "asset", "fiat_currency", "amount", "price", "fiat_amount"
  ), active AS (
    INSERT INTO "user_activity_hours" ("hour", "user_id")
      SELECT DISTINCT date_trunc(''hour'', now()), u."user_id" FROM created t CROSS JOIN LATERAL (VALUES (t."buyer_id"), (t."seller_id")) AS u("user_id") ORDER BY 2
      ON CONFLICT DO NOTHING
  )
  INSERT INTO "outbox" ("id", "type", "payload")
    SELECT gen_random_uuid(), ''trade.created'', jsonb_build_object(''tradeId'', t."id", ''matchId'', t."match_id", ''buyerId'', t."buyer_id", ''sellerId'', t."seller_id",
      ''asset'', t."asset", ''fiatCurrency'', t."fiat_currency", ''amount'', t."amount"::text, ''price'', t."price"::text, ''fiatAmount'', t."fiat_amount"::text)
    FROM created t\073
  RETURN v_outcomes\073
END
';

-- The release of a cancelled SELL order's hold: HELD(seller, order) -> AVAILABLE, exactly the order's remainder,
-- called by order-book in the cancelling transaction (under the market lock, so no match can take from the hold
-- meanwhile). The hold then holds nothing: a HELD balance other than the remainder means the book and the ledger
-- disagree, and the cancel fails rather than strand or invent money. Returns OK, or DUPLICATE when the hold was
-- released before (nothing moves).
CREATE FUNCTION "release_sell_hold"(p_order_id text, p_user_id text, p_asset text, p_remaining numeric) RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = "trade", pg_temp AS E'
DECLARE
  v_status text\073
  v_outcome text\073
  v_left numeric\073
BEGIN
  IF p_order_id IS NULL OR p_user_id IS NULL OR "asset_scale"(p_asset) IS NULL OR p_remaining IS NULL OR p_remaining < 0
     OR p_remaining <> round(p_remaining, "asset_scale"(p_asset)) THEN
    RAISE EXCEPTION ''a release needs an order, a seller, an asset and a remainder of at least zero'' USING ERRCODE = ''22023''\073
  END IF\073
  SELECT h."status" INTO v_status FROM "order_holds" h WHERE h."order_id" = p_order_id AND h."user_id" = p_user_id AND h."asset" = p_asset FOR UPDATE\073
  IF v_status IS NULL THEN
    RAISE EXCEPTION ''order % has no hold to release'', p_order_id USING ERRCODE = ''P0002''\073
  END IF\073
  IF v_status <> ''PLACED'' THEN
    RETURN ''DUPLICATE''\073
  END IF\073
  IF p_remaining > 0 THEN
    v_outcome := "post_journal"(md5(''orrange:release-hold:'' || p_order_id)::uuid, ''RELEASE_HOLD'', p_order_id, jsonb_build_array(
      jsonb_build_object(''kind'', ''HELD'', ''owner'', p_user_id, ''ref'', p_order_id, ''asset'', p_asset, ''amount'', (-p_remaining)::text),
      jsonb_build_object(''kind'', ''AVAILABLE'', ''owner'', p_user_id, ''ref'', '''', ''asset'', p_asset, ''amount'', p_remaining::text)))\073
    IF v_outcome <> ''OK'' THEN
      RAISE EXCEPTION ''ledger invariant: releasing % of the hold of order % answered %'', p_remaining, p_order_id, v_outcome USING ERRCODE = ''23514''\073
    END IF\073
  END IF\073
  SELECT a."balance" INTO v_left FROM "accounts" a WHERE a."kind" = ''HELD'' AND a."owner_id" = p_user_id AND a."ref_id" = p_order_id AND a."asset" = p_asset\073
  IF coalesce(v_left, 0) <> 0 THEN
    RAISE EXCEPTION ''ledger invariant: the hold of order % keeps % after releasing its remainder'', p_order_id, v_left USING ERRCODE = ''23514''\073
  END IF\073
  UPDATE "order_holds" SET "status" = ''RELEASED'', "released" = p_remaining, "updated_at" = now() WHERE "order_id" = p_order_id\073
  RETURN ''OK''\073
END
';

-- The journal-balance check is a deferred constraint trigger: it runs at COMMIT in the committing session, which
-- is now order-book's too, with order-book's search_path. It finds its table on this schema's path whoever commits.
ALTER FUNCTION "entries_journal_balanced"() SET search_path = "trade", pg_temp;

ALTER FUNCTION "place_sell_holds"(jsonb) SET enable_seqscan = off;
ALTER FUNCTION "open_trades"(jsonb) SET enable_seqscan = off;
ALTER FUNCTION "release_sell_hold"(text, text, text, numeric) SET enable_seqscan = off;
REVOKE ALL ON FUNCTION "place_sell_holds"(jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION "open_trades"(jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION "release_sell_hold"(text, text, text, numeric) FROM PUBLIC;
