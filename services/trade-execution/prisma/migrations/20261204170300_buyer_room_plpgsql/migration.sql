-- Hand-written. buyer_room is read for every candidate of an incoming SELL (order-book's candidate read), so it is
-- PL/pgSQL: a LANGUAGE sql function that runs as its owner (SECURITY DEFINER, SET search_path) is never inlined, and
-- Postgres parses, analyzes and plans its body again at every execution of the statement that calls it. PL/pgSQL
-- keeps the plan for the connection. Same signature, result, owner, settings and grants.
CREATE OR REPLACE FUNCTION "buyer_room"(p_user_id text, p_trades_max integer, p_cancels_max integer) RETURNS integer
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = "trade", pg_temp AS E'
BEGIN
  RETURN coalesce((SELECT CASE WHEN "buyer_suspended_until"(b."recent_cancels", p_cancels_max) IS NOT NULL THEN 0 ELSE greatest(p_trades_max - b."open_trades", 0) END
                   FROM "buyer_standing" b WHERE b."user_id" = p_user_id), greatest(p_trades_max, 0))\073
END
';
