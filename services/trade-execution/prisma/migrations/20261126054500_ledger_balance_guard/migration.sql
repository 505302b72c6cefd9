-- Hand-written (no Prisma model change): account balances change only through post_journal, so a balance is
-- always the sum of its entries. post_journal marks its own balance update for the guard trigger, and an
-- account is always created empty. Function bodies are E'' strings with \073 for each semicolon, because
-- Prisma splits migration scripts on every semicolon, even inside dollar quotes.
CREATE FUNCTION "accounts_balance_guard"() RETURNS trigger LANGUAGE plpgsql AS E'
BEGIN
  IF TG_OP = ''INSERT'' AND NEW."balance" <> 0 THEN
    RAISE EXCEPTION ''accounts are created empty'' USING ERRCODE = ''42501''\073
  END IF\073
  IF TG_OP = ''UPDATE'' AND NEW."balance" IS DISTINCT FROM OLD."balance" AND current_setting(''orrange.ledger_posting'', true) IS DISTINCT FROM ''on'' THEN
    RAISE EXCEPTION ''account balances change only through post_journal'' USING ERRCODE = ''42501''\073
  END IF\073
  RETURN NEW\073
END
';
CREATE TRIGGER "accounts_balance_guard" BEFORE INSERT OR UPDATE OF "balance" ON "accounts" FOR EACH ROW EXECUTE FUNCTION "accounts_balance_guard"();

CREATE OR REPLACE FUNCTION "post_journal"(p_id uuid, p_kind text, p_ref text, p_legs jsonb) RETURNS text LANGUAGE plpgsql AS E'
DECLARE
  v_unbalanced text\073
BEGIN
  SELECT string_agg(t."asset", '','') INTO v_unbalanced
    FROM (SELECT l."asset", sum(l."delta") AS s FROM "journal_legs"(p_legs) l GROUP BY l."asset") t WHERE t.s <> 0\073
  IF v_unbalanced IS NOT NULL THEN
    RAISE EXCEPTION ''journal % does not sum to zero for %'', p_id, v_unbalanced USING ERRCODE = ''23514''\073
  END IF\073
  IF EXISTS (SELECT 1 FROM "journal_legs"(p_legs) l WHERE l."kind" IS NULL OR l."asset" IS NULL) THEN
    RAISE EXCEPTION ''journal % has a leg without kind or asset'', p_id USING ERRCODE = ''23502''\073
  END IF\073

  INSERT INTO "accounts" ("kind", "owner_id", "ref_id", "asset")
    SELECT l."kind", l."owner_id", l."ref_id", l."asset" FROM "journal_legs"(p_legs) l ORDER BY 1, 2, 3, 4
    ON CONFLICT DO NOTHING\073

  PERFORM 1 FROM "accounts" a JOIN "journal_legs"(p_legs) l USING ("kind", "owner_id", "ref_id", "asset")
    ORDER BY a."id" FOR UPDATE OF a\073

  IF EXISTS (SELECT 1 FROM "journals" j WHERE j."id" = p_id) THEN
    RETURN ''DUPLICATE''\073
  END IF\073

  IF EXISTS (SELECT 1 FROM "accounts" a JOIN "journal_legs"(p_legs) l USING ("kind", "owner_id", "ref_id", "asset")
             WHERE a."kind" <> ''EXTERNAL'' AND a."balance" + l."delta" < 0) THEN
    RETURN ''INSUFFICIENT''\073
  END IF\073

  INSERT INTO "journals" ("id", "kind", "ref") VALUES (p_id, p_kind, p_ref)\073
  INSERT INTO "entries" ("journal_id", "account_id", "asset", "amount")
    SELECT p_id, a."id", a."asset", l."delta" FROM "accounts" a JOIN "journal_legs"(p_legs) l USING ("kind", "owner_id", "ref_id", "asset")
    WHERE l."delta" <> 0 ORDER BY a."id"\073
  PERFORM set_config(''orrange.ledger_posting'', ''on'', true)\073
  UPDATE "accounts" a SET "balance" = a."balance" + l."delta"
    FROM "journal_legs"(p_legs) l
    WHERE a."kind" = l."kind" AND a."owner_id" = l."owner_id" AND a."ref_id" = l."ref_id" AND a."asset" = l."asset" AND l."delta" <> 0\073
  PERFORM set_config(''orrange.ledger_posting'', ''off'', true)\073
  RETURN ''OK''\073
END
';
