-- Hand-written (no Prisma model change): many money movements in one round trip, for events applied in groups.
-- Function bodies are E'' strings with \073 for each semicolon, because Prisma splits migration scripts on every
-- semicolon, even inside dollar quotes.
--
-- p_journals is a JSON array of {"id","kind","ref","legs"}, legs as post_journal takes them. It creates the
-- missing accounts of ALL the journals (in identity order) and locks them ALL in id order before posting
-- anything: concurrent groups and single post_journal calls then wait for each other in one global order and
-- never deadlock. Then it posts each journal in the given order through post_journal itself (whose own locks
-- are already held), so each answers exactly what it would alone: DUPLICATE, INSUFFICIENT (nothing of that
-- journal written, the others go on) or OK, and a later journal sees the balances the earlier ones left.
-- The outcomes come back in the order of the journals.
CREATE FUNCTION "post_journals"(p_journals jsonb) RETURNS text[] LANGUAGE plpgsql AS E'
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
    JOIN (SELECT DISTINCT l."kind", l."owner_id", l."ref_id", l."asset"
          FROM jsonb_array_elements(p_journals) AS j("doc"), "journal_legs"(j."doc"->''legs'') l) t
      USING ("kind", "owner_id", "ref_id", "asset")
    ORDER BY a."id" FOR UPDATE OF a\073

  FOR v_journal IN SELECT j."doc" FROM jsonb_array_elements(p_journals) WITH ORDINALITY AS j("doc", "n") ORDER BY j."n" LOOP
    v_outcomes := v_outcomes || "post_journal"((v_journal->>''id'')::uuid, v_journal->>''kind'', v_journal->>''ref'', v_journal->''legs'')\073
  END LOOP\073
  RETURN v_outcomes\073
END
';
