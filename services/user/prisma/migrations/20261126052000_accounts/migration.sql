-- Accounts, sessions, API keys, payment methods, reputation and the audit log.
SET search_path TO "users", public;

-- CreateTable
CREATE TABLE "users" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "email" TEXT NOT NULL,
    "username" TEXT NOT NULL,
    "username_key" TEXT NOT NULL,
    "password_hash" TEXT NOT NULL,
    "roles" TEXT[] DEFAULT ARRAY['user']::TEXT[],
    "status" TEXT NOT NULL DEFAULT 'ACTIVE',
    "display_name" TEXT,
    "country" TEXT,
    "bio" TEXT,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "user_stats" (
    "user_id" UUID NOT NULL,
    "trades_completed" INTEGER NOT NULL DEFAULT 0,
    "trades_cancelled" INTEGER NOT NULL DEFAULT 0,
    "disputes_lost" INTEGER NOT NULL DEFAULT 0,
    "feedback_positive" INTEGER NOT NULL DEFAULT 0,
    "feedback_negative" INTEGER NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "user_stats_pkey" PRIMARY KEY ("user_id")
);

-- CreateTable
CREATE TABLE "refresh_tokens" (
    "id" UUID NOT NULL,
    "family_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "token_hash" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(6) NOT NULL,
    "rotated_at" TIMESTAMPTZ(6),
    "revoked_at" TIMESTAMPTZ(6),

    CONSTRAINT "refresh_tokens_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "api_keys" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "user_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "scopes" TEXT[],
    "key_hash" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMPTZ(6),
    "revoked_at" TIMESTAMPTZ(6),

    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "payment_methods" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "type" TEXT NOT NULL,
    "label" TEXT NOT NULL,
    "key_id" TEXT NOT NULL,
    "iv" BYTEA NOT NULL,
    "tag" BYTEA NOT NULL,
    "ciphertext" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "payment_methods_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "audit_log" (
    "id" BIGSERIAL NOT NULL,
    "at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "action" TEXT NOT NULL,
    "actor_id" TEXT,
    "target_id" TEXT,
    "ip" TEXT,
    "request_id" TEXT,
    "metadata" JSONB NOT NULL DEFAULT '{}',

    CONSTRAINT "audit_log_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "users_email_key" ON "users"("email");

-- CreateIndex
CREATE UNIQUE INDEX "users_username_key" ON "users"("username_key");

-- CreateIndex
CREATE UNIQUE INDEX "refresh_tokens_token_hash_key" ON "refresh_tokens"("token_hash");

-- CreateIndex
CREATE INDEX "refresh_tokens_family_idx" ON "refresh_tokens"("family_id");

-- CreateIndex
CREATE INDEX "refresh_tokens_user_idx" ON "refresh_tokens"("user_id");

-- CreateIndex
CREATE UNIQUE INDEX "api_keys_key_hash_key" ON "api_keys"("key_hash");

-- CreateIndex
CREATE INDEX "api_keys_user_idx" ON "api_keys"("user_id", "created_at");

-- CreateIndex
CREATE INDEX "payment_methods_user_idx" ON "payment_methods"("user_id", "created_at");

-- CreateIndex
CREATE INDEX "audit_log_target_idx" ON "audit_log"("target_id", "id");

-- Invariants Prisma cannot express. Emails and username keys are stored lowercased so that the
-- unique indexes are case-insensitive, and every account keeps the user role.
ALTER TABLE "users" ADD CONSTRAINT "users_email_lower" CHECK ("email" = lower("email"));
ALTER TABLE "users" ADD CONSTRAINT "users_username_key_lower" CHECK ("username_key" = lower("username"));
ALTER TABLE "users" ADD CONSTRAINT "users_username_shape" CHECK ("username" ~ '^[A-Za-z0-9_]{3,32}$');
ALTER TABLE "users" ADD CONSTRAINT "users_roles_valid" CHECK ("roles" IS NOT NULL AND 'user' = ANY ("roles") AND "roles" <@ ARRAY['user', 'arbitrator', 'admin']::TEXT[]);
ALTER TABLE "users" ADD CONSTRAINT "users_status_valid" CHECK ("status" IN ('ACTIVE', 'DISABLED'));
ALTER TABLE "user_stats" ADD CONSTRAINT "user_stats_non_negative" CHECK ("trades_completed" >= 0 AND "trades_cancelled" >= 0 AND "disputes_lost" >= 0 AND "feedback_positive" >= 0 AND "feedback_negative" >= 0);
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_scopes_valid" CHECK ("scopes" IS NOT NULL AND cardinality("scopes") > 0 AND "scopes" <@ ARRAY['read', 'trade']::TEXT[]);
ALTER TABLE "payment_methods" ADD CONSTRAINT "payment_methods_crypto_shape" CHECK (length("iv") = 12 AND length("tag") = 16);
