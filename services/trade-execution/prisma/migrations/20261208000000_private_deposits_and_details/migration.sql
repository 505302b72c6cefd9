-- Hand-written. Row-level security on the rest of one user's private rows in trade-execution, as private_rows did
-- for the ledger, withdrawals and chat: a user's deposits and deposit addresses (whose: user_id), and the payment
-- details a trade carries (the seller's sealed method, read by the trade's parties and its arbitrator, as the
-- trade's chat is, while admins, whom the API lets read any trade's, act as the system there). Who acts is the
-- transaction-local setting orrange.user_id (asUser, or AS_SYSTEM for the paths that serve everybody: custody's
-- webhooks, metrics). A statement that names nobody sees none of these rows. The policies read the setting in a
-- scalar subquery, run once per statement.
--
-- Left without: journals. A journal names a movement and what it is for, and whose money moved is in its entries, which
-- are under the policy already. payment_details_reads is the audit of those reads, written by the reader.

-- Deposits: the owner's faucet credits and list, and the system records what custody reports.
ALTER TABLE "deposits" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "acting_user" ON "deposits" TO orrange_trade
  USING ("user_id" = (SELECT nullif(current_setting('orrange.user_id', true), '')));
CREATE POLICY "system" ON "deposits" TO orrange_trade
  USING ((SELECT current_setting('orrange.user_id', true) = 'system'));

-- Deposit addresses: the owner asks for theirs (recorded the first time), and the system finds whose an address is.
ALTER TABLE "deposit_addresses" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "acting_user" ON "deposit_addresses" TO orrange_trade
  USING ("user_id" = (SELECT nullif(current_setting('orrange.user_id', true), '')));
CREATE POLICY "system" ON "deposit_addresses" TO orrange_trade
  USING ((SELECT current_setting('orrange.user_id', true) = 'system'));

-- A trade's payment details: read only by the service's role (open_trades writes them as the tables' owner, and
-- pnpm secrets:reencrypt runs as the migration role).
ALTER TABLE "trade_payment_details" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "acting_user" ON "trade_payment_details" FOR SELECT TO orrange_trade
  USING (EXISTS (
    SELECT 1 FROM "trades" t WHERE t."id" = "trade_payment_details"."trade_id"
       AND (SELECT nullif(current_setting('orrange.user_id', true), '')) IN (t."buyer_id", t."seller_id", t."arbitrator_id")));
CREATE POLICY "system" ON "trade_payment_details" FOR SELECT TO orrange_trade
  USING ((SELECT current_setting('orrange.user_id', true) = 'system'));
