-- Hand-written. Row-level security on a user's API keys and refresh tokens (issue 17), as on payment_methods
-- (migration private_rows): the service's role sees and writes one only in a transaction that named its owner as the
-- acting user, SELECT set_config('orrange.user_id', <user id>, true), so a query that forgets its ownership check
-- returns the acting user's rows alone, and a query that names nobody returns none.
ALTER TABLE "api_keys" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "acting_user" ON "api_keys" TO orrange_user
  USING ("user_id" = nullif(current_setting('orrange.user_id', true), '')::uuid)
  WITH CHECK ("user_id" = nullif(current_setting('orrange.user_id', true), '')::uuid);
ALTER TABLE "refresh_tokens" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "acting_user" ON "refresh_tokens" TO orrange_user
  USING ("user_id" = nullif(current_setting('orrange.user_id', true), '')::uuid)
  WITH CHECK ("user_id" = nullif(current_setting('orrange.user_id', true), '')::uuid);

-- Three accesses come before anybody is known, or concern everybody. Each is a function that runs as the owner of the
-- tables (SECURITY DEFINER, search_path pinned, PL/pgSQL so its plan is kept per connection), granted to the
-- service's role alone, and reaches no row but the ones it names.
-- The gateway's API-key resolution (POST /internal/api-keys/resolve): the live key with this hash of an active user,
-- with the owner's roles, in one round trip, touching last_used_at at most once a minute so that resolving stays a
-- read. Holding the key is what proves who the caller is, so nobody is acting yet.
CREATE FUNCTION "resolve_api_key"(p_key_hash text) RETURNS TABLE ("user_id" uuid, "roles" text[], "scopes" text[])
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = "users", pg_temp AS E'
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH live AS (
    SELECT k."id", k."user_id", k."scopes", u."roles" FROM "api_keys" k JOIN "users" u ON u."id" = k."user_id"
     WHERE k."key_hash" = p_key_hash AND k."revoked_at" IS NULL AND u."status" = ''ACTIVE''),
  touched AS (
    UPDATE "api_keys" SET "last_used_at" = now()
     WHERE "id" = (SELECT live."id" FROM live) AND ("last_used_at" IS NULL OR "last_used_at" < now() - interval ''60 seconds''))
  SELECT live."user_id", live."roles", live."scopes" FROM live\073
END
';
-- Whose refresh token this is (rotated, revoked and expired ones too, so that a reused token is recognised): the
-- refresh and logout transactions name its owner as the acting user, then read and write the token under the policy.
CREATE FUNCTION "refresh_token_owner"(p_token_hash text) RETURNS uuid
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = "users", pg_temp AS E'
BEGIN
  RETURN (SELECT t."user_id" FROM "refresh_tokens" t WHERE t."token_hash" = p_token_hash)\073
END
';
-- The hourly purge of every user's dead refresh tokens: expired, or revoked, for more than a day (a rotated token is
-- kept until it expires, so that its reuse is still recognised). At most p_batch_max rows, returns how many.
CREATE FUNCTION "purge_refresh_tokens"(p_batch_max integer) RETURNS integer
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = "users", pg_temp AS E'
DECLARE
  purged integer\073
BEGIN
  DELETE FROM "refresh_tokens" WHERE "id" IN (
    SELECT t."id" FROM "refresh_tokens" t
     WHERE t."expires_at" < now() - interval ''1 day'' OR t."revoked_at" < now() - interval ''1 day''
     LIMIT p_batch_max)\073
  GET DIAGNOSTICS purged = ROW_COUNT\073
  RETURN purged\073
END
';
REVOKE ALL ON FUNCTION "resolve_api_key"(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION "refresh_token_owner"(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION "purge_refresh_tokens"(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION "resolve_api_key"(text) TO orrange_user;
GRANT EXECUTE ON FUNCTION "refresh_token_owner"(text) TO orrange_user;
GRANT EXECUTE ON FUNCTION "purge_refresh_tokens"(integer) TO orrange_user;
