-- Hand-written (no Prisma model change). Payment details in trades (API.md "Trading essentials"): when a trade opens,
-- trade-execution's open_trades (inside order-book's matching transaction) copies a snapshot of the seller's saved
-- payment method. These functions hand out the sealed row as it is stored (AES-256-GCM, AAD bound to the owner and
-- the method's id), never plaintext: the copy stays encrypted at rest, and later edits or deletes leave it alone.
-- They run as their owner on this schema whoever calls them, and EXECUTE is taken from PUBLIC (as order_path_functions).

-- A saved method's type ("BANK_TRANSFER") against an order's payment method as order-book normalizes it (upper case,
-- single spaces: "BANK TRANSFER").
CREATE FUNCTION "payment_type_matches"(p_type text, p_method text) RETURNS boolean LANGUAGE sql IMMUTABLE AS E'
  SELECT replace(upper(p_type), ''_'', '' '') = replace(upper(coalesce(p_method, '''')), ''_'', '' '')
';

-- For each request {"tradeId", "sellerId", "paymentMethod", "methodIds"}: among the methods the SELL order named
-- (methodIds, the seller's own only), the one whose type is the trade's payment method, else the first named, with
-- none named, the seller's oldest method of that type. No row for a trade when nothing fits.
CREATE FUNCTION "payment_method_snapshots"(p_requests jsonb)
  RETURNS TABLE ("trade_id" text, "method_id" uuid, "owner_id" uuid, "type" text, "label" text, "key_id" text, "iv" bytea, "tag" bytea, "ciphertext" bytea)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = "users", pg_temp AS E'
  SELECT r."doc"->>''tradeId'', m."id", m."user_id", m."type", m."label", m."key_id", m."iv", m."tag", m."ciphertext"
  FROM jsonb_array_elements(p_requests) AS r("doc")
  CROSS JOIN LATERAL (
    SELECT p.* FROM "payment_methods" p
    WHERE p."user_id" = CASE WHEN r."doc"->>''sellerId'' ~ ''^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'' THEN (r."doc"->>''sellerId'')::uuid END
      AND CASE WHEN jsonb_array_length(coalesce(r."doc"->''methodIds'', ''[]''::jsonb)) > 0
               THEN p."id"::text IN (SELECT jsonb_array_elements_text(r."doc"->''methodIds''))
               ELSE "payment_type_matches"(p."type", r."doc"->>''paymentMethod'') END
    ORDER BY "payment_type_matches"(p."type", r."doc"->>''paymentMethod'') DESC, p."created_at", p."id"
    LIMIT 1) m
';

-- The types of a user's saved methods among p_ids (order-book: a SELL naming paymentMethodIds without paymentMethods
-- takes their types). Ids that are not the user's are left out.
CREATE FUNCTION "payment_method_types"(p_user_id text, p_ids text[]) RETURNS TABLE ("id" uuid, "type" text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = "users", pg_temp AS E'
  SELECT p."id", p."type" FROM "payment_methods" p
  WHERE p."user_id" = CASE WHEN p_user_id ~ ''^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'' THEN p_user_id::uuid END
    AND p."id"::text = ANY(p_ids)
';
ALTER FUNCTION "payment_method_snapshots"(jsonb) SET enable_seqscan = off;
REVOKE ALL ON FUNCTION "payment_method_snapshots"(jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION "payment_method_types"(text, text[]) FROM PUBLIC;
