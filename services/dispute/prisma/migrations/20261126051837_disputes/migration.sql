-- CreateTable
CREATE TABLE "disputes" (
    "id" TEXT NOT NULL,
    "trade_id" TEXT NOT NULL,
    "opened_by" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "buyer_id" TEXT NOT NULL,
    "seller_id" TEXT NOT NULL,
    "asset" TEXT NOT NULL,
    "amount" DECIMAL(38,8) NOT NULL,
    "fiat_currency" TEXT NOT NULL,
    "fiat_amount" DECIMAL(38,2) NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'OPEN',
    "arbitrator_id" TEXT,
    "assigned_at" TIMESTAMPTZ(6),
    "outcome" TEXT,
    "buyer_amount" DECIMAL(38,8),
    "resolution_note" TEXT,
    "resolved_by" TEXT,
    "resolved_at" TIMESTAMPTZ(6),
    "evidence_deadline_at" TIMESTAMPTZ(6) NOT NULL,
    "assignment_deadline_at" TIMESTAMPTZ(6) NOT NULL,
    "evidence_closed_at" TIMESTAMPTZ(6),
    "default_judgment_against" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "escalated_at" TIMESTAMPTZ(6),
    "settled_at" TIMESTAMPTZ(6),
    "journal_seq" INTEGER NOT NULL DEFAULT 0,
    "journal_head" TEXT,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "disputes_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "evidence" (
    "id" UUID NOT NULL,
    "dispute_id" TEXT NOT NULL,
    "author_id" TEXT NOT NULL,
    "author_role" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    "attachments" JSONB NOT NULL DEFAULT '[]',
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "evidence_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "journal_entries" (
    "dispute_id" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "action" TEXT NOT NULL,
    "actor_id" TEXT,
    "data" JSONB NOT NULL,
    "prev_hash" TEXT NOT NULL,
    "hash" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "journal_entries_pkey" PRIMARY KEY ("dispute_id","seq")
);

-- CreateIndex
CREATE UNIQUE INDEX "disputes_trade_id_key" ON "disputes"("trade_id");

-- CreateIndex
CREATE INDEX "disputes_status_created_idx" ON "disputes"("status", "created_at", "id");

-- CreateIndex
CREATE INDEX "disputes_created_idx" ON "disputes"("created_at", "id");

-- CreateIndex
CREATE INDEX "disputes_buyer_idx" ON "disputes"("buyer_id");

-- CreateIndex
CREATE INDEX "disputes_seller_idx" ON "disputes"("seller_id");

-- CreateIndex
CREATE INDEX "evidence_dispute_idx" ON "evidence"("dispute_id", "created_at");

-- AddForeignKey
ALTER TABLE "evidence" ADD CONSTRAINT "evidence_dispute_id_fkey" FOREIGN KEY ("dispute_id") REFERENCES "disputes"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "journal_entries" ADD CONSTRAINT "journal_entries_dispute_id_fkey" FOREIGN KEY ("dispute_id") REFERENCES "disputes"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Hand-written: the database itself refuses impossible cases, whatever the code does.
ALTER TABLE "disputes" ADD CONSTRAINT "disputes_status_check" CHECK ("status" IN ('OPEN', 'UNDER_REVIEW', 'RESOLVED'));
ALTER TABLE "disputes" ADD CONSTRAINT "disputes_asset_check" CHECK ("asset" IN ('BTC', 'ETH', 'USDT', 'USDC'));
ALTER TABLE "disputes" ADD CONSTRAINT "disputes_amount_positive" CHECK ("amount" > 0 AND "fiat_amount" >= 0);
ALTER TABLE "disputes" ADD CONSTRAINT "disputes_outcome_check" CHECK ("outcome" IS NULL OR "outcome" IN ('RELEASE_TO_BUYER', 'REFUND_SELLER', 'SPLIT'));
ALTER TABLE "disputes" ADD CONSTRAINT "disputes_resolution_complete" CHECK (("status" = 'RESOLVED') = ("outcome" IS NOT NULL AND "resolved_at" IS NOT NULL AND "resolved_by" IS NOT NULL));
ALTER TABLE "disputes" ADD CONSTRAINT "disputes_split_amount" CHECK (COALESCE("outcome" = 'SPLIT', false) = ("buyer_amount" IS NOT NULL) AND ("buyer_amount" IS NULL OR ("buyer_amount" > 0 AND "buyer_amount" <= "amount")));
ALTER TABLE "disputes" ADD CONSTRAINT "disputes_review_has_arbitrator" CHECK ("status" <> 'UNDER_REVIEW' OR "arbitrator_id" IS NOT NULL);
ALTER TABLE "disputes" ADD CONSTRAINT "disputes_default_judgment_not_null" CHECK ("default_judgment_against" IS NOT NULL);
ALTER TABLE "evidence" ADD CONSTRAINT "evidence_author_role_check" CHECK ("author_role" IN ('BUYER', 'SELLER', 'ARBITRATOR', 'ADMIN'));
ALTER TABLE "journal_entries" ADD CONSTRAINT "journal_entries_seq_positive" CHECK ("seq" >= 1);

-- Evidence and the journal are append-only: rewriting history takes a superuser disabling this trigger,
-- and even then the journal's hash chain shows it.
-- The body is an E'' string with the statement terminator written as an octal escape, so that Prisma's
-- script splitter (which cuts at every semicolon, even inside a function body) leaves it whole.
CREATE FUNCTION "refuse_history_rewrite"() RETURNS trigger LANGUAGE plpgsql AS E'BEGIN RAISE EXCEPTION ''table % is append-only'', TG_TABLE_NAME USING ERRCODE = ''insufficient_privilege''\073 END';
CREATE TRIGGER "journal_entries_append_only" BEFORE UPDATE OR DELETE ON "journal_entries" FOR EACH ROW EXECUTE FUNCTION "refuse_history_rewrite"();
CREATE TRIGGER "evidence_append_only" BEFORE UPDATE OR DELETE ON "evidence" FOR EACH ROW EXECUTE FUNCTION "refuse_history_rewrite"();
