-- Hand-written. Row-level security on the rows of one user's money and talk (issue 17), as on the user service's
-- payment methods (its migration private_rows): a user's ledger (accounts and their entries), withdrawals and their
-- transitions, and trade chat. Who acts is the transaction-local setting orrange.user_id, made by every transaction
-- on these rows (src/data/acting-user.ts): a user's id (asUser) shows that user's rows alone, and the word system
-- (AS_SYSTEM) every row, for the paths that serve everybody: custody's webhooks and the withdrawal sender, an admin's
-- review, the ledger's verification and checkpoint, metrics. A statement that names nobody sees none of these rows,
-- never all of them. current_setting(…, true) is NULL when the setting was never made and empty after a transaction
-- that made it ended: both match no row. Each policy reads the setting in a scalar subquery, which Postgres runs once
-- per statement (an InitPlan), not once per row: the system policies' subquery answers the comparison itself, so a
-- system scan tests one boolean per row (every account summed: 4.5 ms as the owner, 8.2 ms comparing the text per
-- row, 4.5 ms so, 35,000 accounts). The policies bind the service's role alone: the migration role that owns the
-- tables is not subject to them, nor are foreign-key checks.

-- The ledger is written only by its functions, which now run as the owner of its tables (SECURITY DEFINER, like the
-- order path's): a posting moves money between users (a release credits the buyer from the seller's escrow) and
-- system accounts whoever acts. post_journals pinned its search_path already, post_journal now does too. Neither
-- may be called by PUBLIC, which order-book's and dispute's roles belong to (they reach this schema with USAGE).
-- Both keep their SET clauses, so this adds no new save and restore of settings per call.
ALTER FUNCTION "post_journal"(uuid, text, text, jsonb) SECURITY DEFINER SET search_path = "trade", pg_temp;
ALTER FUNCTION "post_journals"(jsonb) SECURITY DEFINER;
REVOKE ALL ON FUNCTION "post_journal"(uuid, text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION "post_journals"(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION "post_journal"(uuid, text, text, jsonb) TO orrange_trade;
GRANT EXECUTE ON FUNCTION "post_journals"(jsonb) TO orrange_trade;

-- Accounts and entries: read only (a balance, a ledger line) by the service's role, which has no policy to write
-- them: a direct INSERT, UPDATE or DELETE finds no row or is refused. System accounts (EXTERNAL, FEES,
-- PENDING_WITHDRAWAL) have no owner and are seen by the system alone.
ALTER TABLE "accounts" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "acting_user" ON "accounts" FOR SELECT TO orrange_trade
  USING ("owner_id" = (SELECT nullif(current_setting('orrange.user_id', true), '')));
CREATE POLICY "system" ON "accounts" FOR SELECT TO orrange_trade
  USING ((SELECT current_setting('orrange.user_id', true) = 'system'));

ALTER TABLE "entries" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "acting_user" ON "entries" FOR SELECT TO orrange_trade
  USING ("account_id" IN (
    SELECT a."id" FROM "accounts" a WHERE a."owner_id" = (SELECT nullif(current_setting('orrange.user_id', true), ''))));
CREATE POLICY "system" ON "entries" FOR SELECT TO orrange_trade
  USING ((SELECT current_setting('orrange.user_id', true) = 'system'));

-- Withdrawals: the owner reads, requests and cancels theirs, the system sends, reviews and moves any.
ALTER TABLE "withdrawals" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "acting_user" ON "withdrawals" TO orrange_trade
  USING ("user_id" = (SELECT nullif(current_setting('orrange.user_id', true), '')));
CREATE POLICY "system" ON "withdrawals" TO orrange_trade
  USING ((SELECT current_setting('orrange.user_id', true) = 'system'));

-- A withdrawal's transitions (its audit trail, with the reviewers' notes) follow the withdrawal.
ALTER TABLE "withdrawal_transitions" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "acting_user" ON "withdrawal_transitions" TO orrange_trade
  USING ("withdrawal_id" IN (
    SELECT w."id" FROM "withdrawals" w WHERE w."user_id" = (SELECT nullif(current_setting('orrange.user_id', true), ''))));
CREATE POLICY "system" ON "withdrawal_transitions" TO orrange_trade
  USING ((SELECT current_setting('orrange.user_id', true) = 'system'));

-- Trade chat: read by the trade's parties and its assigned arbitrator, written by them under their own name. Admins,
-- whom the API lets into any trade's chat, act as the system there (src/domain/trade-chat.use-case.ts).
ALTER TABLE "trade_messages" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "acting_user" ON "trade_messages" TO orrange_trade
  USING (EXISTS (
    SELECT 1 FROM "trades" t WHERE t."id" = "trade_messages"."trade_id"
       AND (SELECT nullif(current_setting('orrange.user_id', true), '')) IN (t."buyer_id", t."seller_id", t."arbitrator_id")))
  WITH CHECK ("sender_id" = (SELECT nullif(current_setting('orrange.user_id', true), '')) AND EXISTS (
    SELECT 1 FROM "trades" t WHERE t."id" = "trade_messages"."trade_id"
       AND "trade_messages"."sender_id" IN (t."buyer_id", t."seller_id", t."arbitrator_id")));
CREATE POLICY "system" ON "trade_messages" TO orrange_trade
  USING ((SELECT current_setting('orrange.user_id', true) = 'system'));
