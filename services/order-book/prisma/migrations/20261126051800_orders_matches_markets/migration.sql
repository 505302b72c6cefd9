SET search_path TO "order_book", public;

-- CreateTable
CREATE TABLE "orders" (
    "id" UUID NOT NULL,
    "seq" BIGSERIAL NOT NULL,
    "user_id" TEXT NOT NULL,
    "side" TEXT NOT NULL,
    "asset" TEXT NOT NULL,
    "fiat_currency" TEXT NOT NULL,
    "price" DECIMAL(38,2) NOT NULL,
    "amount" DECIMAL(38,8) NOT NULL,
    "remaining" DECIMAL(38,8) NOT NULL,
    "min_fill" DECIMAL(38,8) NOT NULL,
    "payment_methods" TEXT[],
    "payment_window_minutes" INTEGER NOT NULL,
    "terms" TEXT,
    "status" TEXT NOT NULL,
    "live" BOOLEAN NOT NULL DEFAULT false,
    "reject_reason" TEXT,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "orders_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "matches" (
    "id" UUID NOT NULL,
    "trade_id" UUID NOT NULL,
    "maker_order_id" UUID NOT NULL,
    "taker_order_id" UUID,
    "buy_order_id" UUID,
    "sell_order_id" UUID,
    "buyer_id" TEXT NOT NULL,
    "seller_id" TEXT NOT NULL,
    "asset" TEXT NOT NULL,
    "fiat_currency" TEXT NOT NULL,
    "price" DECIMAL(38,2) NOT NULL,
    "amount" DECIMAL(38,8) NOT NULL,
    "payment_method" TEXT NOT NULL,
    "payment_window_minutes" INTEGER NOT NULL,
    "seller_funding" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'ACTIVE',
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "matches_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "markets" (
    "asset" TEXT NOT NULL,
    "fiat_currency" TEXT NOT NULL,
    "sequence" BIGINT NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "markets_pkey" PRIMARY KEY ("asset","fiat_currency")
);

-- CreateIndex
CREATE UNIQUE INDEX "orders_seq_key" ON "orders"("seq");

-- CreateIndex
CREATE INDEX "orders_book_asc_idx" ON "orders"("asset", "fiat_currency", "side", "live", "price", "seq");

-- CreateIndex
CREATE INDEX "orders_book_desc_idx" ON "orders"("asset", "fiat_currency", "side", "live", "price" DESC, "seq");

-- CreateIndex
CREATE INDEX "orders_user_idx" ON "orders"("user_id", "seq");

-- CreateIndex
CREATE UNIQUE INDEX "matches_trade_id_key" ON "matches"("trade_id");

-- CreateIndex
CREATE INDEX "matches_maker_idx" ON "matches"("maker_order_id");

-- CreateIndex
CREATE INDEX "matches_taker_idx" ON "matches"("taker_order_id");

-- Hand-written invariants (Prisma does not model CHECK constraints, and reports no drift for them).
ALTER TABLE "orders" ADD CONSTRAINT "orders_side_check" CHECK (side IN ('BUY', 'SELL'));
ALTER TABLE "orders" ADD CONSTRAINT "orders_status_check" CHECK (status IN ('PENDING_FUNDS', 'OPEN', 'PARTIALLY_FILLED', 'FILLED', 'CANCELLED', 'REJECTED'));
ALTER TABLE "orders" ADD CONSTRAINT "orders_live_check" CHECK (live = (status IN ('OPEN', 'PARTIALLY_FILLED')));
ALTER TABLE "orders" ADD CONSTRAINT "orders_amounts_check" CHECK (price > 0 AND amount > 0 AND remaining >= 0 AND remaining <= amount AND min_fill > 0 AND min_fill <= amount);
ALTER TABLE "orders" ADD CONSTRAINT "orders_filled_check" CHECK ((status = 'FILLED') = (remaining = 0));
ALTER TABLE "orders" ADD CONSTRAINT "orders_payment_methods_check" CHECK (payment_methods IS NOT NULL AND cardinality(payment_methods) BETWEEN 1 AND 10);
ALTER TABLE "matches" ADD CONSTRAINT "matches_amounts_check" CHECK (price > 0 AND amount > 0);
ALTER TABLE "matches" ADD CONSTRAINT "matches_funding_check" CHECK (seller_funding IN ('HOLD', 'AVAILABLE'));
ALTER TABLE "matches" ADD CONSTRAINT "matches_status_check" CHECK (status IN ('ACTIVE', 'REJECTED'));
ALTER TABLE "markets" ADD CONSTRAINT "markets_sequence_check" CHECK (sequence >= 0);
