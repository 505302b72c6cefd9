-- Whether a SELL ad's trades would get payment details (API.md: "a seller with no matching saved method gets
-- paymentDetails: null, and the ad shows it"): for each {"adId", "sellerId", "paymentMethods", "methodIds"}, true when
-- one of the named methods is still saved, or (none named) the seller saved a method of one of the ad's types. The
-- same choice as payment_method_snapshots, answered as a yes or no: no method, id or detail leaves.
CREATE FUNCTION "payment_details_on_file"(p_ads jsonb) RETURNS TABLE ("ad_id" text, "on_file" boolean)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = "users", pg_temp AS E'
  SELECT a."doc"->>''adId'', EXISTS (
    SELECT 1 FROM "payment_methods" p
    WHERE p."user_id" = CASE WHEN a."doc"->>''sellerId'' ~ ''^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'' THEN (a."doc"->>''sellerId'')::uuid END
      AND CASE WHEN jsonb_array_length(coalesce(a."doc"->''methodIds'', ''[]''::jsonb)) > 0
               THEN p."id"::text IN (SELECT jsonb_array_elements_text(a."doc"->''methodIds''))
               ELSE EXISTS (SELECT 1 FROM jsonb_array_elements_text(coalesce(a."doc"->''paymentMethods'', ''[]''::jsonb)) m("method") WHERE "payment_type_matches"(p."type", m."method")) END)
  FROM jsonb_array_elements(p_ads) AS a("doc")
';
REVOKE ALL ON FUNCTION "payment_details_on_file"(jsonb) FROM PUBLIC;
