-- A SELL order may name the seller's saved payment methods (API.md paymentMethodIds): each of its trades takes its
-- payment details from them (trade-execution's open_trades copies the sealed snapshot when the trade opens).
ALTER TABLE "orders" ADD COLUMN "payment_method_ids" UUID[] NOT NULL DEFAULT '{}';
ALTER TABLE "orders" ADD CONSTRAINT "orders_payment_method_ids_check" CHECK (cardinality("payment_method_ids") <= 10 AND ("side" = 'SELL' OR cardinality("payment_method_ids") = 0));
