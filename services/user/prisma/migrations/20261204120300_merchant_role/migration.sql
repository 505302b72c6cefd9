-- Hand-written. The merchant role (API.md "Trading essentials"): set by an admin like every role, it gives an account
-- the higher open-order and open-trade limits that P2P venues give their verified merchants.
ALTER TABLE "users" DROP CONSTRAINT "users_roles_valid";
ALTER TABLE "users" ADD CONSTRAINT "users_roles_valid" CHECK ("roles" IS NOT NULL AND 'user' = ANY ("roles") AND "roles" <@ ARRAY['user', 'arbitrator', 'admin', 'merchant']::TEXT[]);
