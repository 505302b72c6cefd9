-- Hand-written. TRADES_OPEN_AS_BUYER_MAX and the suspension of buyers are kept where a trade is counted, not by
-- locking the buyers' standing rows from a placement's first statement to its commit: that lock made every BUY (and
-- every take) of a buyer wait for whatever the same buyer was placing or filling in another market, a convoy across
-- markets at load. order-book now reads the standing unlocked (buyer_standing, as PL/pgSQL so that its plan is
-- cached), and each match tells open_trades the cap it was decided with (buyerTradesMax, buyerCancelsMax), and a buyer
-- past it when the trades are written, because another market's trades committed first, makes open_trades fail with
-- serialization_failure (40001) and the placement runs again on fresh reads.
CREATE OR REPLACE FUNCTION "open_trades"(p_matches jsonb) RETURNS text[] LANGUAGE plpgsql SECURITY DEFINER SET search_path = "trade", pg_temp AS E'
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
  ), details AS (
    INSERT INTO "trade_payment_details" ("trade_id", "method_id", "owner_id", "type", "label", "key_id", "iv", "tag", "ciphertext")
    SELECT s."trade_id", s."method_id", s."owner_id"::text, s."type", s."label", s."key_id", s."iv", s."tag", s."ciphertext"
    FROM "users"."payment_method_snapshots"((
      SELECT coalesce(jsonb_agg(jsonb_build_object(''tradeId'', o."d"->>''tradeId'', ''sellerId'', o."d"->>''sellerId'', ''paymentMethod'', o."d"->>''paymentMethod'',
        ''methodIds'', coalesce(o."d"->''paymentMethodIds'', ''[]''::jsonb))), ''[]''::jsonb) FROM opened o)) s
    ORDER BY 1
  ), active AS (
    INSERT INTO "user_activity_hours" ("hour", "user_id")
      SELECT DISTINCT date_trunc(''hour'', now()), u."user_id" FROM created t CROSS JOIN LATERAL (VALUES (t."buyer_id"), (t."seller_id")) AS u("user_id") ORDER BY 2
      ON CONFLICT DO NOTHING
  )
  INSERT INTO "outbox" ("id", "type", "payload")
    SELECT gen_random_uuid(), ''trade.created'', jsonb_build_object(''tradeId'', t."id", ''matchId'', t."match_id", ''buyerId'', t."buyer_id", ''sellerId'', t."seller_id",
      ''asset'', t."asset", ''fiatCurrency'', t."fiat_currency", ''amount'', t."amount"::text, ''price'', t."price"::text, ''fiatAmount'', t."fiat_amount"::text)
    FROM created t\073
  -- The limits of the buyers, kept where a trade is counted: the INSERT above counted the new trades of each buyer in
  -- their buyer_standing row (and holds that row until the commit). order-book read the standing without a lock: a
  -- buyer whose trades in another market committed meanwhile is now past the cap order-book decided with, or suspended
  -- by a cancel that committed meanwhile: serialization_failure, and order-book runs the placement again on fresh
  -- reads. Matches without buyerTradesMax are not checked.
  IF EXISTS (SELECT 1 FROM (SELECT e."doc"->>''buyerId'' AS "buyer_id", min((e."doc"->>''buyerTradesMax'')::int) AS "trades_max",
                                   max(coalesce((e."doc"->>''buyerCancelsMax'')::int, 0)) AS "cancels_max"
                            FROM jsonb_array_elements(p_matches) WITH ORDINALITY AS e("doc", "n")
                            WHERE v_outcomes[e."n"] = ''OK'' AND e."doc"->>''buyerTradesMax'' IS NOT NULL GROUP BY 1) c
             JOIN "buyer_standing" b ON b."user_id" = c."buyer_id"
             WHERE b."open_trades" > c."trades_max" OR "buyer_suspended_until"(b."recent_cancels", c."cancels_max") IS NOT NULL) THEN
    RAISE EXCEPTION ''a buyer of these matches is past their open-trade limit or suspended: a trade in another market committed first''
      USING ERRCODE = ''40001''\073
  END IF\073
  RETURN v_outcomes\073
END
';
ALTER FUNCTION "open_trades"(jsonb) SET enable_seqscan = off;
ALTER FUNCTION "open_trades"(jsonb) SET plan_cache_mode = force_generic_plan;
REVOKE ALL ON FUNCTION "open_trades"(jsonb) FROM PUBLIC;

CREATE OR REPLACE FUNCTION "buyer_standing"(p_user_ids text[], p_cancels_max integer)
  RETURNS TABLE ("user_id" text, "open_trades" integer, "suspended_until" timestamptz)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = "trade", pg_temp AS E'
BEGIN
  RETURN QUERY SELECT b."user_id", b."open_trades", "buyer_suspended_until"(b."recent_cancels", p_cancels_max) FROM "buyer_standing" b WHERE b."user_id" = ANY(p_user_ids)\073
END
';
REVOKE ALL ON FUNCTION "buyer_standing"(text[], integer) FROM PUBLIC;

-- Kept for order-book instances of the previous release during a rolling deploy: nothing of this release calls it.
COMMENT ON FUNCTION "lock_buyer_standing"(text[], integer) IS 'unused since 20261205000000_buyer_limits_at_the_write, to be dropped in the next release';
