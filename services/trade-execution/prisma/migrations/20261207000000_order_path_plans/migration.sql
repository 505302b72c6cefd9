-- Hand-written. Two plans of the order path that cost more than their work.
--
-- transfer_each locked the source accounts of a call of several transfers with a join of the
-- accounts on the call's distinct sources. Its plan is made once per connection (force_generic_plan, inherited from
-- place_sell_holds and open_trades), with whatever the ledger looked like then: planned on a small ledger it was a
-- merge or hash join that reads the identity index from its start (enable_seqscan = off turns the table scan into
-- an index scan without a condition), so the lock read every account whose identity sorts before the sources, more
-- with every SELL and trade, which add accounts: 3.8 ms per call in a 30 s bench at 300 orders/s (pg_stat_statements), against
-- ~0.03 ms for a lookup by identity. Now each distinct source is found by its identity (a LATERAL subquery with
-- LIMIT 1 is never turned into a join, so each is an index lookup, whatever the plan), and the accounts found are
-- locked by id, in id order. Behaviour unchanged: the same rows locked in the same order, and a missing source locks
-- nothing (post_transfer answers INSUFFICIENT).
CREATE OR REPLACE FUNCTION "transfer_each"(p_transfers jsonb) RETURNS text[] LANGUAGE plpgsql AS E'
DECLARE
  v_outcomes text[] := ARRAY[]::text[]\073
  v_transfer jsonb\073
BEGIN
  IF jsonb_array_length(p_transfers) > 1 THEN
    PERFORM 1 FROM "trade"."accounts" a
      WHERE a."id" = ANY (ARRAY(
        SELECT f."id"
        FROM (SELECT DISTINCT e."doc"->>''fromKind'' AS "kind", e."doc"->>''fromOwner'' AS "owner_id", e."doc"->>''fromRef'' AS "ref_id", e."doc"->>''asset'' AS "asset"
              FROM jsonb_array_elements(p_transfers) AS e("doc")) s
        CROSS JOIN LATERAL (SELECT x."id" FROM "trade"."accounts" x
                            WHERE x."kind" = s."kind" AND x."owner_id" = s."owner_id" AND x."ref_id" = s."ref_id" AND x."asset" = s."asset"
                            LIMIT 1) f))
      ORDER BY a."id" FOR UPDATE\073
  END IF\073
  FOR v_transfer IN SELECT e."doc" FROM jsonb_array_elements(p_transfers) WITH ORDINALITY AS e("doc", "n") ORDER BY e."n" LOOP
    v_outcomes := v_outcomes || "trade"."post_transfer"((v_transfer->>''id'')::uuid, v_transfer->>''kind'', v_transfer->>''ref'',
      v_transfer->>''fromKind'', v_transfer->>''fromOwner'', v_transfer->>''fromRef'',
      v_transfer->>''toKind'', v_transfer->>''toOwner'', v_transfer->>''toRef'', v_transfer->>''asset'', (v_transfer->>''amount'')::numeric)\073
  END LOOP\073
  RETURN v_outcomes\073
END
';
REVOKE ALL ON FUNCTION "transfer_each"(jsonb) FROM PUBLIC;

-- buyer_standing (each BUY's admission reads it) was planned again at every call: with plan_cache_mode's default,
-- Postgres compares a generic plan of `user_id = ANY(p_user_ids)` (an array of unknown length) with custom plans
-- for the array given, finds the custom ones cheaper and keeps making them, 0.26-0.33 ms of planning for 0.04 ms of
-- execution (pg_stat_statements with track_planning, 2,336 calls in the bench's 30 s at 300 orders/s). One generic
-- plan per connection now, by the primary key whatever the table's size when it was made (enable_seqscan = off,
-- as on the rest of the order path): the function already restores its search_path at every call, so the two
-- settings add little to that.
ALTER FUNCTION "buyer_standing"(text[], integer) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION "buyer_standing"(text[], integer) SET enable_seqscan = off;
