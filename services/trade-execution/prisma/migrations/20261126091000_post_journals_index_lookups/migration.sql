-- Hand-written (no Prisma model change). Postings must cost the same at every size of the ledger.
-- post_journals locked its accounts through a join of the group's legs
-- (jsonb_array_elements, planned as 100 rows per journal) with "accounts", which the planner ran as a hash join
-- over a sequential scan of the whole table: every group cost time in proportion to all accounts ever opened.
-- Now each distinct leg finds its account through accounts_identity_key (a LATERAL lookup that cannot be
-- turned into a join) and the accounts are locked by id, in id order as before. Same accounts, same order.
CREATE OR REPLACE FUNCTION "post_journals"(p_journals jsonb) RETURNS text[] LANGUAGE plpgsql AS E'
DECLARE
  v_journal jsonb\073
  v_outcomes text[] := ARRAY[]::text[]\073
BEGIN
  IF EXISTS (SELECT 1 FROM jsonb_array_elements(p_journals) AS j("doc"), "journal_legs"(j."doc"->''legs'') l
             WHERE l."kind" IS NULL OR l."asset" IS NULL) THEN
    RAISE EXCEPTION ''a journal has a leg without kind or asset'' USING ERRCODE = ''23502''\073
  END IF\073

  INSERT INTO "accounts" ("kind", "owner_id", "ref_id", "asset")
    SELECT DISTINCT l."kind", l."owner_id", l."ref_id", l."asset"
    FROM jsonb_array_elements(p_journals) AS j("doc"), "journal_legs"(j."doc"->''legs'') l
    ORDER BY 1, 2, 3, 4
    ON CONFLICT DO NOTHING\073

  PERFORM 1 FROM "accounts" a
    WHERE a."id" = ANY (ARRAY(
      SELECT x."id"
      FROM (SELECT DISTINCT l."kind", l."owner_id", l."ref_id", l."asset"
            FROM jsonb_array_elements(p_journals) AS j("doc"), "journal_legs"(j."doc"->''legs'') l) t
      CROSS JOIN LATERAL (SELECT b."id" FROM "accounts" b
                          WHERE b."kind" = t."kind" AND b."owner_id" = t."owner_id" AND b."ref_id" = t."ref_id" AND b."asset" = t."asset" LIMIT 1) x))
    ORDER BY a."id" FOR UPDATE OF a\073

  FOR v_journal IN SELECT j."doc" FROM jsonb_array_elements(p_journals) WITH ORDINALITY AS j("doc", "n") ORDER BY j."n" LOOP
    v_outcomes := v_outcomes || "post_journal"((v_journal->>''id'')::uuid, v_journal->>''kind'', v_journal->>''ref'', v_journal->''legs'')\073
  END LOOP\073
  RETURN v_outcomes\073
END
';

-- PL/pgSQL keeps each statement's plan for the life of the connection. A plan made while the ledger was small
-- (a new database, the first minutes after a deployment) may scan the whole table, and keeps scanning it as
-- the table grows until an ANALYZE happens to invalidate it. Every lookup the postings make has an index, so
-- they are told never to prefer a sequential scan: their plans stay index lookups at every size.
ALTER FUNCTION "post_journal"(uuid, text, text, jsonb) SET enable_seqscan = off;
ALTER FUNCTION "post_journals"(jsonb) SET enable_seqscan = off;
