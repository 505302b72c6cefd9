-- Hand-written. buyer_standing, locked: order-book reads the standing of the buyers of an incoming BUY batch or of a
-- take with their rows locked (created for buyers without one), in the statement it sends first anyway, so that the
-- same buyer's orders and takes in other markets wait for this transaction and then see its trades: a buyer cannot
-- pass TRADES_OPEN_AS_BUYER_MAX by racing orders across markets.
CREATE FUNCTION "lock_buyer_standing"(p_user_ids text[], p_cancels_max integer)
  RETURNS TABLE ("buyer_id" text, "open_trades_now" integer, "suspended_until" timestamptz)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = "trade", pg_temp AS E'
BEGIN
  INSERT INTO "buyer_standing" ("user_id") SELECT DISTINCT u.id FROM unnest(p_user_ids) AS u(id) WHERE u.id IS NOT NULL ORDER BY 1 ON CONFLICT DO NOTHING\073
  RETURN QUERY SELECT b."user_id", b."open_trades", "buyer_suspended_until"(b."recent_cancels", p_cancels_max)
    FROM "buyer_standing" b WHERE b."user_id" = ANY(p_user_ids) ORDER BY b."user_id" FOR UPDATE\073
END
';
REVOKE ALL ON FUNCTION "lock_buyer_standing"(text[], integer) FROM PUBLIC;
