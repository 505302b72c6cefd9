-- Hand-written (no Prisma model change). journal_legs was an inlinable SQL function: the planner saw its
-- jsonb_array_elements as 100 rows and joined the legs to "accounts" with a hash join over a sequential scan
-- of the whole table, so every posting cost time in proportion to the number of accounts (one HELD account per
-- SELL order and one ESCROW account per trade: it grows without bound). As PL/pgSQL with ROWS 4 the legs are
-- planned as the handful of rows they are, and each is looked up through accounts_identity_key. Same result.
CREATE OR REPLACE FUNCTION "journal_legs"(p_legs jsonb) RETURNS TABLE ("kind" text, "owner_id" text, "ref_id" text, "asset" text, "delta" numeric) LANGUAGE plpgsql IMMUTABLE ROWS 4 AS E'
BEGIN
  RETURN QUERY SELECT l->>''kind'', coalesce(l->>''owner'', ''''), coalesce(l->>''ref'', ''''), l->>''asset'', sum((l->>''amount'')::numeric)
    FROM jsonb_array_elements(p_legs) AS l GROUP BY 1, 2, 3, 4\073
END
';
