-- Row-level security on the private rows of one user (issue 17): the user service's role sees and writes a saved
-- payment method only in a transaction that named its owner as the acting user
--   SELECT set_config('orrange.user_id', <user id>, true)    (src/data/acting-user.ts)
-- so a query that forgets its ownership check returns nothing instead of the row of another user, and a missing
-- setting means no rows at all, never every row. The migration role that owns the table is not subject to it (the
-- SECURITY DEFINER functions order-book and trade-execution call, pnpm secrets:reencrypt), nor are foreign-key
-- actions. current_setting(…, true) is NULL when the setting was never made and empty after a transaction that made
-- it ended: both give NULL, which matches no row.
ALTER TABLE "payment_methods" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "acting_user" ON "payment_methods" TO orrange_user
  USING ("user_id" = nullif(current_setting('orrange.user_id', true), '')::uuid)
  WITH CHECK ("user_id" = nullif(current_setting('orrange.user_id', true), '')::uuid);
