-- CreateTable
CREATE TABLE "accounts" (
    "id" BIGSERIAL NOT NULL,
    "kind" TEXT NOT NULL,
    "owner_id" TEXT NOT NULL DEFAULT '',
    "ref_id" TEXT NOT NULL DEFAULT '',
    "asset" TEXT NOT NULL,
    "balance" DECIMAL(38,8) NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "accounts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "journals" (
    "id" UUID NOT NULL,
    "kind" TEXT NOT NULL,
    "ref" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "journals_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "entries" (
    "id" BIGSERIAL NOT NULL,
    "journal_id" UUID NOT NULL,
    "account_id" BIGINT NOT NULL,
    "asset" TEXT NOT NULL,
    "amount" DECIMAL(38,8) NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "entries_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "deposits" (
    "id" UUID NOT NULL,
    "user_id" TEXT NOT NULL,
    "asset" TEXT NOT NULL,
    "amount" DECIMAL(38,8) NOT NULL,
    "status" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "deposits_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "withdrawals" (
    "id" UUID NOT NULL,
    "user_id" TEXT NOT NULL,
    "asset" TEXT NOT NULL,
    "amount" DECIMAL(38,8) NOT NULL,
    "address" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "withdrawals_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "order_holds" (
    "order_id" TEXT NOT NULL,
    "user_id" TEXT NOT NULL,
    "asset" TEXT NOT NULL,
    "amount" DECIMAL(38,8) NOT NULL,
    "status" TEXT NOT NULL,
    "released" DECIMAL(38,8) NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "order_holds_pkey" PRIMARY KEY ("order_id")
);

-- CreateTable
CREATE TABLE "rejected_matches" (
    "match_id" TEXT NOT NULL,
    "trade_id" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "rejected_matches_pkey" PRIMARY KEY ("match_id")
);

-- CreateTable
CREATE TABLE "trades" (
    "id" TEXT NOT NULL,
    "match_id" TEXT NOT NULL,
    "buy_order_id" TEXT,
    "sell_order_id" TEXT,
    "buyer_id" TEXT NOT NULL,
    "seller_id" TEXT NOT NULL,
    "asset" TEXT NOT NULL,
    "fiat_currency" TEXT NOT NULL,
    "price" DECIMAL(38,2) NOT NULL,
    "amount" DECIMAL(38,8) NOT NULL,
    "fiat_amount" DECIMAL(38,2) NOT NULL,
    "fee" DECIMAL(38,8) NOT NULL DEFAULT 0,
    "payment_method" TEXT NOT NULL,
    "payment_window_minutes" INTEGER NOT NULL,
    "status" TEXT NOT NULL,
    "escrow_status" TEXT NOT NULL,
    "payment_deadline" TIMESTAMPTZ(6) NOT NULL,
    "dispute_id" TEXT,
    "disputed_by" TEXT,
    "arbitrator_id" TEXT,
    "outcome" TEXT,
    "buyer_amount" DECIMAL(38,8),
    "cancel_reason" TEXT,
    "paid_at" TIMESTAMPTZ(6),
    "closed_at" TIMESTAMPTZ(6),
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "trades_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "trade_messages" (
    "id" UUID NOT NULL,
    "seq" BIGSERIAL NOT NULL,
    "trade_id" TEXT NOT NULL,
    "sender_id" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "trade_messages_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "trade_feedback" (
    "trade_id" TEXT NOT NULL,
    "from_user_id" TEXT NOT NULL,
    "to_user_id" TEXT NOT NULL,
    "rating" TEXT NOT NULL,
    "comment" TEXT,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "trade_feedback_pkey" PRIMARY KEY ("trade_id","from_user_id")
);

-- CreateTable
CREATE TABLE "market_minutes" (
    "asset" TEXT NOT NULL,
    "fiat_currency" TEXT NOT NULL,
    "minute" TIMESTAMPTZ(6) NOT NULL,
    "trades" INTEGER NOT NULL,
    "volume" DECIMAL(38,8) NOT NULL,
    "fiat_volume" DECIMAL(38,2) NOT NULL,
    "high" DECIMAL(38,2) NOT NULL,
    "low" DECIMAL(38,2) NOT NULL,
    "last_price" DECIMAL(38,2) NOT NULL,
    "last_at" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "market_minutes_pkey" PRIMARY KEY ("asset","fiat_currency","minute")
);

-- CreateTable
CREATE TABLE "market_last" (
    "asset" TEXT NOT NULL,
    "fiat_currency" TEXT NOT NULL,
    "last_price" DECIMAL(38,2) NOT NULL,
    "last_at" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "market_last_pkey" PRIMARY KEY ("asset","fiat_currency")
);

-- CreateTable
CREATE TABLE "user_activity" (
    "user_id" TEXT NOT NULL,
    "last_active_at" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "user_activity_pkey" PRIMARY KEY ("user_id")
);

-- CreateIndex
CREATE INDEX "accounts_owner_idx" ON "accounts"("owner_id", "asset");

-- CreateIndex
CREATE UNIQUE INDEX "accounts_identity_key" ON "accounts"("kind", "owner_id", "ref_id", "asset");

-- CreateIndex
CREATE INDEX "entries_journal_idx" ON "entries"("journal_id");

-- CreateIndex
CREATE INDEX "entries_account_idx" ON "entries"("account_id", "id");

-- CreateIndex
CREATE INDEX "deposits_user_idx" ON "deposits"("user_id", "created_at");

-- CreateIndex
CREATE INDEX "withdrawals_user_idx" ON "withdrawals"("user_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "trades_match_id_key" ON "trades"("match_id");

-- CreateIndex
CREATE UNIQUE INDEX "trades_dispute_id_key" ON "trades"("dispute_id");

-- CreateIndex
CREATE INDEX "trades_buyer_idx" ON "trades"("buyer_id", "created_at");

-- CreateIndex
CREATE INDEX "trades_seller_idx" ON "trades"("seller_id", "created_at");

-- CreateIndex
CREATE INDEX "trades_status_idx" ON "trades"("status");

-- CreateIndex
CREATE UNIQUE INDEX "trade_messages_seq_key" ON "trade_messages"("seq");

-- CreateIndex
CREATE INDEX "trade_messages_trade_idx" ON "trade_messages"("trade_id", "seq");

-- CreateIndex
CREATE INDEX "market_minutes_minute_idx" ON "market_minutes"("minute");

-- CreateIndex
CREATE INDEX "user_activity_last_idx" ON "user_activity"("last_active_at");

-- AddForeignKey
ALTER TABLE "entries" ADD CONSTRAINT "entries_journal_id_fkey" FOREIGN KEY ("journal_id") REFERENCES "journals"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "entries" ADD CONSTRAINT "entries_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Hand-written: the ledger's invariants live in the database, not only in code.
-- Function bodies are E'' strings with \073 for each semicolon, because Prisma splits migration scripts on every
-- semicolon, even inside dollar quotes.
-- User accounts and the FEES / PENDING_WITHDRAWAL system accounts can never go below zero. Only EXTERNAL
-- (the outside world's mirror of deposits and withdrawals) may.
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_kind_check" CHECK ("kind" IN ('AVAILABLE', 'HELD', 'ESCROW', 'EXTERNAL', 'FEES', 'PENDING_WITHDRAWAL'));
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_balance_nonnegative" CHECK ("kind" = 'EXTERNAL' OR "balance" >= 0);
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_asset_check" CHECK ("asset" IN ('BTC', 'ETH', 'USDT', 'USDC'));
ALTER TABLE "entries" ADD CONSTRAINT "entries_amount_nonzero" CHECK ("amount" <> 0);
ALTER TABLE "trades" ADD CONSTRAINT "trades_amount_positive" CHECK ("amount" > 0 AND "price" > 0 AND "fee" >= 0 AND "fee" <= "amount");
ALTER TABLE "trades" ADD CONSTRAINT "trades_status_check" CHECK ("status" IN ('AWAITING_PAYMENT', 'PAID', 'COMPLETED', 'CANCELLED', 'DISPUTED', 'RESOLVED'));
ALTER TABLE "trades" ADD CONSTRAINT "trades_escrow_status_check" CHECK ("escrow_status" IN ('LOCKED', 'RELEASED', 'REFUNDED'));
ALTER TABLE "trades" ADD CONSTRAINT "trades_buyer_amount_check" CHECK ("buyer_amount" IS NULL OR ("buyer_amount" >= 0 AND "buyer_amount" <= "amount"));
ALTER TABLE "order_holds" ADD CONSTRAINT "order_holds_released_check" CHECK ("released" >= 0 AND "released" <= "amount");
ALTER TABLE "deposits" ADD CONSTRAINT "deposits_amount_positive" CHECK ("amount" > 0);
ALTER TABLE "withdrawals" ADD CONSTRAINT "withdrawals_amount_positive" CHECK ("amount" > 0);

-- Every journal sums to zero per asset, checked at commit (deferred), whatever code inserted the entries.
CREATE FUNCTION "entries_journal_balanced"() RETURNS trigger LANGUAGE plpgsql AS E'
BEGIN
  IF EXISTS (SELECT 1 FROM "entries" WHERE "journal_id" = NEW."journal_id" GROUP BY "asset" HAVING sum("amount") <> 0) THEN
    RAISE EXCEPTION ''journal % does not sum to zero per asset'', NEW."journal_id" USING ERRCODE = ''23514''\073
  END IF\073
  RETURN NULL\073
END
';
CREATE CONSTRAINT TRIGGER "entries_journal_balanced" AFTER INSERT ON "entries" DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "entries_journal_balanced"();

-- Journals and entries are append-only: history is never rewritten.
CREATE FUNCTION "ledger_append_only"() RETURNS trigger LANGUAGE plpgsql AS E'
BEGIN
  RAISE EXCEPTION ''the ledger is append-only (% on %)'', TG_OP, TG_TABLE_NAME USING ERRCODE = ''42501''\073
END
';
CREATE TRIGGER "entries_append_only" BEFORE UPDATE OR DELETE ON "entries" FOR EACH ROW EXECUTE FUNCTION "ledger_append_only"();
CREATE TRIGGER "journals_append_only" BEFORE UPDATE OR DELETE ON "journals" FOR EACH ROW EXECUTE FUNCTION "ledger_append_only"();

-- The legs of a movement, one row per account with its net delta: p_legs is a JSON array of
-- {"kind","owner","ref","asset","amount"} with signed decimal amounts.
CREATE FUNCTION "journal_legs"(p_legs jsonb) RETURNS TABLE ("kind" text, "owner_id" text, "ref_id" text, "asset" text, "delta" numeric) LANGUAGE sql IMMUTABLE AS E'
  SELECT l->>''kind'', coalesce(l->>''owner'', ''''), coalesce(l->>''ref'', ''''), l->>''asset'', sum((l->>''amount'')::numeric)
  FROM jsonb_array_elements(p_legs) AS l GROUP BY 1, 2, 3, 4
';

-- One money movement in one round trip. It refuses an unbalanced journal, creates missing accounts, locks
-- every touched account in id order (no deadlocks between movements), then answers DUPLICATE (a journal with
-- this id exists: the movement already happened), INSUFFICIENT (an account other than EXTERNAL would go
-- negative: nothing is written), or OK (journal, entries and balances written). The balance CHECK stays the
-- last line of defence.
CREATE FUNCTION "post_journal"(p_id uuid, p_kind text, p_ref text, p_legs jsonb) RETURNS text LANGUAGE plpgsql AS E'
DECLARE
  v_unbalanced text\073
BEGIN
  SELECT string_agg(t."asset", '','') INTO v_unbalanced
    FROM (SELECT l."asset", sum(l."delta") AS s FROM "journal_legs"(p_legs) l GROUP BY l."asset") t WHERE t.s <> 0\073
  IF v_unbalanced IS NOT NULL THEN
    RAISE EXCEPTION ''journal % does not sum to zero for %'', p_id, v_unbalanced USING ERRCODE = ''23514''\073
  END IF\073
  IF EXISTS (SELECT 1 FROM "journal_legs"(p_legs) l WHERE l."kind" IS NULL OR l."asset" IS NULL) THEN
    RAISE EXCEPTION ''journal % has a leg without kind or asset'', p_id USING ERRCODE = ''23502''\073
  END IF\073

  INSERT INTO "accounts" ("kind", "owner_id", "ref_id", "asset")
    SELECT l."kind", l."owner_id", l."ref_id", l."asset" FROM "journal_legs"(p_legs) l ORDER BY 1, 2, 3, 4
    ON CONFLICT DO NOTHING\073

  PERFORM 1 FROM "accounts" a JOIN "journal_legs"(p_legs) l USING ("kind", "owner_id", "ref_id", "asset")
    ORDER BY a."id" FOR UPDATE OF a\073

  IF EXISTS (SELECT 1 FROM "journals" j WHERE j."id" = p_id) THEN
    RETURN ''DUPLICATE''\073
  END IF\073

  IF EXISTS (SELECT 1 FROM "accounts" a JOIN "journal_legs"(p_legs) l USING ("kind", "owner_id", "ref_id", "asset")
             WHERE a."kind" <> ''EXTERNAL'' AND a."balance" + l."delta" < 0) THEN
    RETURN ''INSUFFICIENT''\073
  END IF\073

  INSERT INTO "journals" ("id", "kind", "ref") VALUES (p_id, p_kind, p_ref)\073
  INSERT INTO "entries" ("journal_id", "account_id", "asset", "amount")
    SELECT p_id, a."id", a."asset", l."delta" FROM "accounts" a JOIN "journal_legs"(p_legs) l USING ("kind", "owner_id", "ref_id", "asset")
    WHERE l."delta" <> 0 ORDER BY a."id"\073
  UPDATE "accounts" a SET "balance" = a."balance" + l."delta"
    FROM "journal_legs"(p_legs) l
    WHERE a."kind" = l."kind" AND a."owner_id" = l."owner_id" AND a."ref_id" = l."ref_id" AND a."asset" = l."asset" AND l."delta" <> 0\073
  RETURN ''OK''\073
END
';
