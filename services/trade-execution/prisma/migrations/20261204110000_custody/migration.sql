-- Hand-written. Money in and out through a custody provider (issue 16): deposit addresses, deposits credited from
-- signed custody webhooks once per (asset, txid, output index), withdrawals with a lifecycle and their history,
-- the webhooks kept for operators when they cannot be applied, and the simulated provider's own record of what
-- it was asked to send (it stands for the outside world, so it keeps its own state).

-- One address per user, asset and network. address_key is how a webhook's address is looked up: lower case for
-- the case-insensitive formats (bech32, hex), as written for Base58Check.
CREATE TABLE "deposit_addresses" (
    "user_id" TEXT NOT NULL,
    "asset" TEXT NOT NULL,
    "network" TEXT NOT NULL,
    "address" TEXT NOT NULL,
    "address_key" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "deposit_addresses_pkey" PRIMARY KEY ("user_id", "asset", "network"),
    CONSTRAINT "deposit_addresses_asset_check" CHECK ("asset" IN ('BTC', 'ETH', 'USDT', 'USDC'))
);
CREATE UNIQUE INDEX "deposit_addresses_address_key" ON "deposit_addresses"("asset", "network", "address_key");

-- Faucet deposits (source FAUCET, credited at once) and custody deposits (source CUSTODY: PENDING until they have
-- the asset's confirmations, then CREDITED in the transaction that posts their journal).
ALTER TABLE "deposits"
    ADD COLUMN "source" TEXT NOT NULL DEFAULT 'FAUCET',
    ADD COLUMN "address" TEXT,
    ADD COLUMN "txid" TEXT,
    ADD COLUMN "output_index" INTEGER,
    ADD COLUMN "confirmations" INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN "credited_at" TIMESTAMPTZ(6),
    ADD COLUMN "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP;
UPDATE "deposits" SET "status" = 'CREDITED', "credited_at" = "created_at" WHERE "status" = 'COMPLETED';
ALTER TABLE "deposits" ALTER COLUMN "source" DROP DEFAULT;
ALTER TABLE "deposits" ADD CONSTRAINT "deposits_status_check" CHECK ("status" IN ('PENDING', 'CREDITED'));
ALTER TABLE "deposits" ADD CONSTRAINT "deposits_source_check" CHECK ("source" IN ('FAUCET', 'CUSTODY'));
ALTER TABLE "deposits" ADD CONSTRAINT "deposits_custody_fields" CHECK ("source" = 'FAUCET' OR ("txid" IS NOT NULL AND "output_index" >= 0 AND "address" IS NOT NULL));
ALTER TABLE "deposits" ADD CONSTRAINT "deposits_credited_at" CHECK (("status" = 'CREDITED') = ("credited_at" IS NOT NULL));
ALTER TABLE "deposits" ADD CONSTRAINT "deposits_confirmations_check" CHECK ("confirmations" >= 0);
-- The once-only rule of deposits: an output of a transaction is one deposit, however often it is reported.
CREATE UNIQUE INDEX "deposits_output_key" ON "deposits"("asset", "txid", "output_index");

-- Withdrawals: PENDING_REVIEW -> APPROVED -> BROADCAST -> CONFIRMED, or REJECTED / CANCELLED / FAILED. Rows of
-- the first version (status PENDING, debited into PENDING_WITHDRAWAL, no fee) wait for review like new ones.
ALTER TABLE "withdrawals"
    ADD COLUMN "fee" DECIMAL(38,8) NOT NULL DEFAULT 0,
    ADD COLUMN "network" TEXT,
    ADD COLUMN "txid" TEXT,
    ADD COLUMN "note" TEXT,
    ADD COLUMN "failure_reason" TEXT,
    ADD COLUMN "reviewed_by" TEXT,
    ADD COLUMN "reviewed_at" TIMESTAMPTZ(6),
    ADD COLUMN "submitted_at" TIMESTAMPTZ(6),
    ADD COLUMN "send_attempts" INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN "next_send_at" TIMESTAMPTZ(6),
    ADD COLUMN "last_send_error" TEXT,
    ADD COLUMN "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP;
UPDATE "withdrawals" SET "status" = 'PENDING_REVIEW' WHERE "status" = 'PENDING';
ALTER TABLE "withdrawals" ADD CONSTRAINT "withdrawals_status_check" CHECK ("status" IN ('PENDING_REVIEW', 'APPROVED', 'BROADCAST', 'CONFIRMED', 'REJECTED', 'CANCELLED', 'FAILED'));
ALTER TABLE "withdrawals" ADD CONSTRAINT "withdrawals_fee_check" CHECK ("fee" >= 0);
-- An approved withdrawal is sent to custody (next_send_at says when to try) until custody took it (submitted_at).
ALTER TABLE "withdrawals" ADD CONSTRAINT "withdrawals_send_schedule" CHECK ("status" <> 'APPROVED' OR "submitted_at" IS NOT NULL OR "next_send_at" IS NOT NULL);
CREATE INDEX "withdrawals_status_idx" ON "withdrawals"("status", "created_at");
CREATE INDEX "withdrawals_due_idx" ON "withdrawals"("next_send_at") WHERE "status" = 'APPROVED' AND "submitted_at" IS NULL;
-- The daily limit sums the user's withdrawals of an asset over 24 h.
CREATE INDEX "withdrawals_user_asset_idx" ON "withdrawals"("user_id", "asset", "created_at");

-- Every transition of a withdrawal, with who made it (a user, an admin, 'auto' or 'custody'): the audit trail of
-- approvals and rejections. Insert-only.
CREATE TABLE "withdrawal_transitions" (
    "id" BIGSERIAL NOT NULL,
    "withdrawal_id" UUID NOT NULL,
    "from_status" TEXT,
    "to_status" TEXT NOT NULL,
    "actor" TEXT NOT NULL,
    "note" TEXT,
    "request_id" TEXT,
    "at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "withdrawal_transitions_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "withdrawal_transitions_withdrawal_idx" ON "withdrawal_transitions"("withdrawal_id", "id");

-- Signed custody webhooks that could not be applied (unknown address or withdrawal, malformed, contradicting
-- what is recorded): kept for operators, never credited. Unsigned requests are refused and never stored.
CREATE TABLE "custody_rejected_events" (
    "id" BIGSERIAL NOT NULL,
    "reason" TEXT NOT NULL,
    "detail" TEXT NOT NULL,
    "event_id" TEXT,
    "body" TEXT NOT NULL,
    "received_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "custody_rejected_events_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "custody_rejected_events_received_idx" ON "custody_rejected_events"("received_at");

-- The simulated provider's side: what it accepted to send (once per withdrawal id), and when it reports the
-- broadcast and the confirmation through signed webhooks.
CREATE TABLE "simulated_custody_sends" (
    "withdrawal_id" UUID NOT NULL,
    "asset" TEXT NOT NULL,
    "amount" DECIMAL(38,8) NOT NULL,
    "address" TEXT NOT NULL,
    "txid" TEXT NOT NULL,
    "accepted_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "broadcast_due_at" TIMESTAMPTZ(6) NOT NULL,
    "broadcast_at" TIMESTAMPTZ(6),
    "confirm_due_at" TIMESTAMPTZ(6) NOT NULL,
    "confirmed_at" TIMESTAMPTZ(6),

    CONSTRAINT "simulated_custody_sends_pkey" PRIMARY KEY ("withdrawal_id")
);
CREATE INDEX "simulated_custody_sends_due_idx" ON "simulated_custody_sends"("broadcast_due_at") WHERE "confirmed_at" IS NULL;
