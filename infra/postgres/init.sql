-- Runs once when the Postgres container initialises its data directory.
-- Each service creates its own schema in its first migration; this only prepares the server.
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
