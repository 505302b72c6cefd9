-- Hand-written. Payment details in trades (API.md "Trading essentials"). When a trade opens, open_trades copies a
-- snapshot of the seller's saved payment method (users.payment_method_snapshots: the SELL order's named methods
-- (paymentMethodIds) or the seller's method of the trade's type) into trade_payment_details, still sealed as the
-- user service stored it (AES-256-GCM, AAD "payment-method:v1:<owner>:<method>"), in the transaction that opens
-- the trade: no queue hop, no plaintext anywhere but in the answer of GET /trades/:id to those who may see it.
-- Editing or deleting the saved method later leaves the snapshot alone. No snapshot row: paymentDetails null.
CREATE TABLE "trade_payment_details" (
    "trade_id" TEXT NOT NULL,
    "method_id" UUID NOT NULL,
    "owner_id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "label" TEXT NOT NULL,
    "key_id" TEXT NOT NULL,
    "iv" BYTEA NOT NULL,
    "tag" BYTEA NOT NULL,
    "ciphertext" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT now(),
    CONSTRAINT "trade_payment_details_pkey" PRIMARY KEY ("trade_id")
);

-- Every read of payment details by someone other than their owner (the seller): the buyer, the arbitrator, an admin.
CREATE TABLE "payment_details_reads" (
    "id" BIGSERIAL NOT NULL,
    "trade_id" TEXT NOT NULL,
    "owner_id" TEXT NOT NULL,
    "reader_id" TEXT NOT NULL,
    "reader_role" TEXT NOT NULL,
    "request_id" TEXT,
    "read_at" TIMESTAMPTZ(6) NOT NULL DEFAULT now(),
    CONSTRAINT "payment_details_reads_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "payment_details_reads_role_check" CHECK ("reader_role" IN ('buyer', 'arbitrator', 'admin'))
);
CREATE INDEX "payment_details_reads_trade_idx" ON "payment_details_reads" ("trade_id", "id");

-- open_trades as in order_path_functions, plus the snapshot (the "details" step). p_matches items may carry
-- "paymentMethodIds" (the SELL order's named methods).
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
  RETURN v_outcomes\073
END
';
ALTER FUNCTION "open_trades"(jsonb) SET enable_seqscan = off;
REVOKE ALL ON FUNCTION "open_trades"(jsonb) FROM PUBLIC;
