-- API keys may hold the "withdraw" scope (funds leaving the platform), and only beside "trade".
ALTER TABLE "api_keys" DROP CONSTRAINT "api_keys_scopes_valid";
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_scopes_valid" CHECK ("scopes" IS NOT NULL AND cardinality("scopes") > 0 AND "scopes" <@ ARRAY['read', 'trade', 'withdraw']::TEXT[] AND (NOT 'withdraw' = ANY ("scopes") OR 'trade' = ANY ("scopes")));
