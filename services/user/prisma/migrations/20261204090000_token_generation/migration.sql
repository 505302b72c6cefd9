-- Access tokens carry the user's token generation (claim "gen"). A role change or a disable bumps it in the
-- same transaction, and the gateway refuses tokens of older generations: no clock decides which tokens die.
ALTER TABLE "users" ADD COLUMN "token_generation" INTEGER NOT NULL DEFAULT 0;
