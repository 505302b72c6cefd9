-- AlterTable
ALTER TABLE "market_minutes" DROP CONSTRAINT "market_minutes_pkey",
ADD COLUMN     "shard" SMALLINT NOT NULL DEFAULT 0,
ADD CONSTRAINT "market_minutes_pkey" PRIMARY KEY ("asset", "fiat_currency", "minute", "shard");

-- DropTable
DROP TABLE "market_last";

-- DropTable
DROP TABLE "user_activity";

-- CreateTable
CREATE TABLE "markets" (
    "asset" TEXT NOT NULL,
    "fiat_currency" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "markets_pkey" PRIMARY KEY ("asset","fiat_currency")
);

-- CreateTable
CREATE TABLE "user_activity_hours" (
    "hour" TIMESTAMPTZ(6) NOT NULL,
    "user_id" TEXT NOT NULL,

    CONSTRAINT "user_activity_hours_pkey" PRIMARY KEY ("hour","user_id")
);

