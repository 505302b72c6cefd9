-- Trade chat sealed at rest (issue 18): a message's body is AES-256-GCM ciphertext under the key named by key_id,
-- bound to its trade and id. Messages written before keep their plaintext body until pnpm secrets:reencrypt seals
-- them. Every row is exactly one of the two forms.
ALTER TABLE "trade_messages" ALTER COLUMN "body" DROP NOT NULL,
  ADD COLUMN "key_id" TEXT,
  ADD COLUMN "iv" BYTEA,
  ADD COLUMN "tag" BYTEA,
  ADD COLUMN "ciphertext" BYTEA;

ALTER TABLE "trade_messages" ADD CONSTRAINT "trade_messages_sealed_or_plaintext" CHECK (
  ("body" IS NULL AND "key_id" IS NOT NULL AND "iv" IS NOT NULL AND "tag" IS NOT NULL AND "ciphertext" IS NOT NULL)
  OR ("body" IS NOT NULL AND "key_id" IS NULL AND "iv" IS NULL AND "tag" IS NULL AND "ciphertext" IS NULL)
);
