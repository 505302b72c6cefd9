-- A checkpoint of the append-only ledger, so that /admin/ledger/verify reads the entries after it instead of every
-- entry ever written: each account's entries summed up to an entry id (ledger_checkpoint_totals), the entries'
-- sums per asset and the journals found unbalanced up to it (ledger_checkpoint). Entries are never updated or
-- deleted (entries_append_only), so sums up to an id stay true: ledger-checkpoint.repository.ts says how the id
-- is chosen so that no entry at or below it can still commit later.

-- CreateTable
CREATE TABLE "ledger_checkpoint" (
    "id" BOOLEAN NOT NULL DEFAULT true,
    "through_entry_id" BIGINT NOT NULL DEFAULT 0,
    "entry_sums" JSONB NOT NULL DEFAULT '{}',
    "unbalanced_journals" JSONB NOT NULL DEFAULT '{}',
    "taken_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ledger_checkpoint_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ledger_checkpoint_totals" (
    "account_id" BIGINT NOT NULL,
    "total" DECIMAL(38,8) NOT NULL,

    CONSTRAINT "ledger_checkpoint_totals_pkey" PRIMARY KEY ("account_id")
);

-- One row: the checkpoint.
ALTER TABLE "ledger_checkpoint" ADD CONSTRAINT "ledger_checkpoint_one_row" CHECK ("id");
INSERT INTO "ledger_checkpoint" ("id") VALUES (true);
