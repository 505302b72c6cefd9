-- Market rules (API.md "Trading essentials"): a reference price (set by an admin, else the median price of the
-- market's matches of the last 24 h, refreshed by the service) that orders must stay within 20 % of
-- (ORDER.PRICE_OUT_OF_BAND), and a minimum fiat value per order (ORDER.BELOW_MINIMUM). Kept on the market's row
-- beside its sequence. The service reads every market's rules into memory every few seconds, so a placement checks
-- them without a statement of its own.
ALTER TABLE "markets" ADD COLUMN "admin_reference_price" DECIMAL(38,2),
  ADD COLUMN "trades_reference_price" DECIMAL(38,2),
  ADD COLUMN "min_fiat" DECIMAL(38,2),
  ADD COLUMN "rules_updated_at" TIMESTAMPTZ(6);
ALTER TABLE "markets" ADD CONSTRAINT "markets_rules_check" CHECK ((admin_reference_price IS NULL OR admin_reference_price > 0) AND (trades_reference_price IS NULL OR trades_reference_price > 0) AND (min_fiat IS NULL OR min_fiat > 0));

-- The 24-hour median reads a market's recent matches by time.
CREATE INDEX "matches_market_time_idx" ON "matches" ("asset", "fiat_currency", "created_at");
