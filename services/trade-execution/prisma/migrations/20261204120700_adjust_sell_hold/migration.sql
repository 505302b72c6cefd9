-- Hand-written. A SELL order's hold follows an edit of the order's amount (API.md PATCH /orders/:id), called by
-- order-book in the transaction that edits the order, under its market lock (as release_sell_hold is): p_delta > 0
-- moves that much more from the seller's AVAILABLE to HELD(order), p_delta < 0 gives that much back. p_edit_id names
-- the edit (the journal's id), so a replay moves nothing. order_holds.amount counts everything ever held for the order,
-- so that a later release of the remainder stays within it. The hold then holds exactly the new remainder, or the
-- call fails rather than leave the book and the ledger apart. Returns OK, INSUFFICIENT (AVAILABLE cannot cover an
-- increase: nothing written) or DUPLICATE (this edit moved its amount before: nothing moves now).
CREATE FUNCTION "adjust_sell_hold"(p_order_id text, p_user_id text, p_asset text, p_delta numeric, p_remaining numeric, p_edit_id uuid) RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = "trade", pg_temp AS E'
DECLARE
  v_status text\073
  v_outcome text\073
  v_held numeric\073
BEGIN
  IF p_order_id IS NULL OR p_user_id IS NULL OR p_edit_id IS NULL OR "asset_scale"(p_asset) IS NULL OR p_delta IS NULL OR p_remaining IS NULL OR p_remaining <= 0
     OR p_delta <> round(p_delta, "asset_scale"(p_asset)) OR p_remaining <> round(p_remaining, "asset_scale"(p_asset)) THEN
    RAISE EXCEPTION ''an adjustment needs an order, a seller, an asset, an edit id, a change and a positive remainder within the asset''''s decimals'' USING ERRCODE = ''22023''\073
  END IF\073
  SELECT h."status" INTO v_status FROM "order_holds" h WHERE h."order_id" = p_order_id AND h."user_id" = p_user_id AND h."asset" = p_asset FOR UPDATE\073
  IF v_status IS DISTINCT FROM ''PLACED'' THEN
    RAISE EXCEPTION ''order % has no placed hold to adjust'', p_order_id USING ERRCODE = ''P0002''\073
  END IF\073
  IF p_delta = 0 THEN
    RETURN ''OK''\073
  END IF\073
  v_outcome := "post_journal"(p_edit_id, ''ADJUST_HOLD'', p_order_id, jsonb_build_array(
    jsonb_build_object(''kind'', ''AVAILABLE'', ''owner'', p_user_id, ''ref'', '''', ''asset'', p_asset, ''amount'', (-p_delta)::text),
    jsonb_build_object(''kind'', ''HELD'', ''owner'', p_user_id, ''ref'', p_order_id, ''asset'', p_asset, ''amount'', p_delta::text)))\073
  IF v_outcome <> ''OK'' THEN
    RETURN v_outcome\073
  END IF\073
  SELECT a."balance" INTO v_held FROM "accounts" a WHERE a."kind" = ''HELD'' AND a."owner_id" = p_user_id AND a."ref_id" = p_order_id AND a."asset" = p_asset\073
  IF v_held IS DISTINCT FROM p_remaining THEN
    RAISE EXCEPTION ''ledger invariant: the hold of order % is % after an edit to a remainder of %'', p_order_id, v_held, p_remaining USING ERRCODE = ''23514''\073
  END IF\073
  IF p_delta > 0 THEN
    UPDATE "order_holds" SET "amount" = "amount" + p_delta, "updated_at" = now() WHERE "order_id" = p_order_id\073
  END IF\073
  RETURN ''OK''\073
END
';
ALTER FUNCTION "adjust_sell_hold"(text, text, text, numeric, numeric, uuid) SET enable_seqscan = off;
REVOKE ALL ON FUNCTION "adjust_sell_hold"(text, text, text, numeric, numeric, uuid) FROM PUBLIC;
