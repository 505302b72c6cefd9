SET search_path TO "order_book", public;

-- Takes the market's advisory lock and then reads the best crossing resting orders, in one round trip.
-- Each statement of a VOLATILE function takes a fresh snapshot under READ COMMITTED, so the read sees
-- every order committed by the previous holder of the lock (one statement that locks and reads would not).
-- The book is serialized per market by this lock across all replicas.
CREATE OR REPLACE FUNCTION "order_book"."locked_candidates"(
  p_asset TEXT, p_fiat TEXT, p_incoming_side TEXT, p_limit_price NUMERIC, p_user_id TEXT, p_payment_methods TEXT[], p_limit INTEGER
) RETURNS SETOF "order_book"."orders" LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext(p_asset || '/' || p_fiat));
  IF p_incoming_side = 'BUY' THEN
    RETURN QUERY SELECT * FROM "order_book"."orders" o
      WHERE o.asset = p_asset AND o.fiat_currency = p_fiat AND o.side = 'SELL' AND o.live AND o.price <= p_limit_price
        AND o.user_id <> p_user_id AND o.payment_methods && p_payment_methods
      ORDER BY o.asset, o.fiat_currency, o.side, o.live, o.price ASC, o.seq ASC LIMIT p_limit;
  ELSE
    RETURN QUERY SELECT * FROM "order_book"."orders" o
      WHERE o.asset = p_asset AND o.fiat_currency = p_fiat AND o.side = 'BUY' AND o.live AND o.price >= p_limit_price
        AND o.user_id <> p_user_id AND o.payment_methods && p_payment_methods
      ORDER BY o.asset, o.fiat_currency, o.side, o.live, o.price DESC, o.seq ASC LIMIT p_limit;
  END IF;
END
$fn$;
