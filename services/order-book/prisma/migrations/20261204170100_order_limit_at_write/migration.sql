-- Hand-written. ORDERS_OPEN_MAX is kept exactly where an order is counted, not by a lock taken when it is admitted.
-- A placement reads its owners' counts without locking them (a lock held until the commit made the fills of every
-- maker wait for whatever that maker was placing in another market) and sets the caps of its transaction
-- (orrange.orders_open_max, orrange.merchant_orders_open_max). Counting an inserted open order then takes the count's
-- row (until the commit, one round trip later) and refuses an order past its owner's cap with serialization_failure
-- (40001): two markets admitted the same last slot at once, and the one refused runs again, reading the count the
-- other committed, and answers ORDER.LIMIT_REACHED. Writers that set no cap (none insert orders today) are not checked.
CREATE OR REPLACE FUNCTION "user_order_counts_follow"() RETURNS trigger LANGUAGE plpgsql AS E'
DECLARE
  v_count integer\073
  v_cap text\073
BEGIN
  INSERT INTO "user_order_counts" AS c ("user_id", "open_orders")
    VALUES (NEW."user_id", CASE WHEN "order_is_open"(NEW."status") THEN 1 ELSE 0 END)
    ON CONFLICT ("user_id") DO UPDATE SET "open_orders" = c."open_orders"
      + CASE WHEN "order_is_open"(NEW."status") THEN 1 ELSE 0 END
      - CASE WHEN TG_OP = ''UPDATE'' AND "order_is_open"(OLD."status") THEN 1 ELSE 0 END
    RETURNING c."open_orders" INTO v_count\073
  IF TG_OP = ''INSERT'' THEN
    v_cap := current_setting(CASE WHEN NEW."merchant" THEN ''orrange.merchant_orders_open_max'' ELSE ''orrange.orders_open_max'' END, true)\073
    IF coalesce(v_cap, '''') <> '''' AND v_count > v_cap::integer THEN
      RAISE EXCEPTION ''user % has % open orders, past the cap of %: a placement in another market took the last slot'', NEW."user_id", v_count, v_cap
        USING ERRCODE = ''40001''\073
    END IF\073
  END IF\073
  RETURN NULL\073
END
';
