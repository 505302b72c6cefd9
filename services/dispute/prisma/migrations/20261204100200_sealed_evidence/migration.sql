-- Hand-written. Dispute evidence sealed at rest (issue 18): an item's body and attachments are one AES-256-GCM
-- ciphertext under the key named by key_id, bound to its case and id, and the journal's copy of them is sealed the
-- same way inside its data (the field "sealed"), while the entry's hash stays the hash of the content in the clear.
-- Items and entries written before keep their plaintext until pnpm secrets:reencrypt seals them.

-- History stays append-only, except for its sealing: the one rewrite allowed is the re-encryption's, which changes
-- how the content is stored and nothing else (see the triggers at the end).
DROP TRIGGER "evidence_append_only" ON "evidence";
DROP TRIGGER "journal_entries_append_only" ON "journal_entries";

ALTER TABLE "evidence" ALTER COLUMN "body" DROP NOT NULL,
  ADD COLUMN "key_id" TEXT,
  ADD COLUMN "iv" BYTEA,
  ADD COLUMN "tag" BYTEA,
  ADD COLUMN "ciphertext" BYTEA,
  ADD COLUMN "content_bytes" INTEGER;

-- The size an item counts for against EVIDENCE_BYTES_PER_CASE_MAX (domain evidenceBytes), kept beside the sealed
-- content because the database can no longer measure it: the body's and each attachment's name and url UTF-8
-- bytes, plus 64 per attachment for its hash.
UPDATE "evidence" e SET "content_bytes" = octet_length(e."body") + (
  SELECT coalesce(sum(octet_length(a->>'name') + octet_length(coalesce(a->>'url', '')) + 64), 0)
    FROM jsonb_array_elements(e."attachments") a)::int;
ALTER TABLE "evidence" ALTER COLUMN "content_bytes" SET NOT NULL;

ALTER TABLE "evidence" ADD CONSTRAINT "evidence_content_bytes_check" CHECK ("content_bytes" >= 0);
ALTER TABLE "evidence" ADD CONSTRAINT "evidence_sealed_or_plaintext" CHECK (
  ("body" IS NULL AND "attachments" = '[]'::jsonb AND "key_id" IS NOT NULL AND "iv" IS NOT NULL AND "tag" IS NOT NULL AND "ciphertext" IS NOT NULL)
  OR ("body" IS NOT NULL AND "key_id" IS NULL AND "iv" IS NULL AND "tag" IS NULL AND "ciphertext" IS NULL)
);

CREATE FUNCTION "evidence_reseal_only"() RETURNS trigger LANGUAGE plpgsql AS E'BEGIN IF NEW.key_id IS NULL OR (NEW.id, NEW.dispute_id, NEW.author_id, NEW.author_role, NEW.created_at, NEW.content_bytes) IS DISTINCT FROM (OLD.id, OLD.dispute_id, OLD.author_id, OLD.author_role, OLD.created_at, OLD.content_bytes) THEN RAISE EXCEPTION ''table % is append-only: only the sealing of its content may change'', TG_TABLE_NAME USING ERRCODE = ''insufficient_privilege''\073 END IF\073 RETURN NEW\073 END';
CREATE FUNCTION "journal_reseal_only"() RETURNS trigger LANGUAGE plpgsql AS E'BEGIN IF NOT (NEW.data ? ''sealed'') OR NEW.data ?| ARRAY[''body'', ''attachments''] OR (NEW.dispute_id, NEW.seq, NEW.action, NEW.actor_id, NEW.prev_hash, NEW.hash, NEW.created_at) IS DISTINCT FROM (OLD.dispute_id, OLD.seq, OLD.action, OLD.actor_id, OLD.prev_hash, OLD.hash, OLD.created_at) OR (NEW.data - ARRAY[''sealed'', ''body'', ''attachments'']) IS DISTINCT FROM (OLD.data - ARRAY[''sealed'', ''body'', ''attachments'']) THEN RAISE EXCEPTION ''table % is append-only: only the sealing of its content may change'', TG_TABLE_NAME USING ERRCODE = ''insufficient_privilege''\073 END IF\073 RETURN NEW\073 END';

CREATE TRIGGER "evidence_append_only" BEFORE DELETE ON "evidence" FOR EACH ROW EXECUTE FUNCTION "refuse_history_rewrite"();
CREATE TRIGGER "evidence_reseal_only" BEFORE UPDATE ON "evidence" FOR EACH ROW EXECUTE FUNCTION "evidence_reseal_only"();
CREATE TRIGGER "journal_entries_append_only" BEFORE DELETE ON "journal_entries" FOR EACH ROW EXECUTE FUNCTION "refuse_history_rewrite"();
CREATE TRIGGER "journal_entries_reseal_only" BEFORE UPDATE ON "journal_entries" FOR EACH ROW EXECUTE FUNCTION "journal_reseal_only"();
