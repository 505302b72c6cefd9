import { sealedTextPrefix, type SealedColumn } from '@orrange/secrets';
import type { JournalEntry } from '../domain/journal';
import { openEvidence, openJournalData, sealEvidence, sealJournalData, type StoredEvidence } from './sealing';

// The sealed columns as `pnpm secrets:reencrypt` sees them, in SQL: the command's batches run in the Database
// transactions of packages/secrets (resealColumn, shared by every service's sealed columns), and each batch is a
// keyset page locked FOR UPDATE, which Prisma cannot express.

/** For pnpm secrets:reencrypt: every item not sealed under the active key, plaintext ones included, by id. */
export const sealedEvidence: SealedColumn<StoredEvidence & { cursor: string }> = {
  name: 'dispute.evidence',
  stale: (tx, activeKid, after, limit) =>
    tx.query(
      `SELECT id::text AS cursor, id, dispute_id AS "disputeId", body, attachments, key_id AS "keyId", iv, tag, ciphertext
         FROM evidence WHERE key_id IS DISTINCT FROM $1 AND ($2::uuid IS NULL OR id > $2::uuid) ORDER BY id LIMIT $3 FOR UPDATE`,
      [activeKid, after, limit],
    ),
  async reseal(tx, keyring, row) {
    const s = sealEvidence(keyring, row, openEvidence(keyring, row));
    await tx.query(
      `UPDATE evidence SET body = NULL, attachments = '[]', key_id = $2, iv = $3, tag = $4, ciphertext = $5 WHERE id = $1`,
      [row.id, s.keyId, s.iv, s.tag, s.ciphertext],
    );
  },
};

interface StoredJournalData {
  cursor: string;
  disputeId: string;
  seq: number;
  data: JournalEntry['data'];
}

/** For pnpm secrets:reencrypt: entries whose evidence content is in the clear or sealed under another key. */
export const sealedJournal: SealedColumn<StoredJournalData> = {
  name: 'dispute.journal_entries',
  stale: (tx, activeKid, after, limit) =>
    tx.query(
      `SELECT json_build_array(dispute_id, seq)::text AS cursor, dispute_id AS "disputeId", seq, data FROM journal_entries
        WHERE (data ?| ARRAY['body', 'attachments'] OR left(data->>'sealed', length($1)) <> $1)
          AND ($2::text IS NULL OR (dispute_id, seq) > ($2::json->>0, ($2::json->>1)::int))
        ORDER BY dispute_id, seq LIMIT $3 FOR UPDATE`,
      [sealedTextPrefix(activeKid), after, limit],
    ),
  async reseal(tx, keyring, row) {
    const data = sealJournalData(
      keyring,
      row.disputeId,
      row.seq,
      openJournalData(keyring, row.disputeId, row.seq, row.data),
    );
    await tx.query('UPDATE journal_entries SET data = $3 WHERE dispute_id = $1 AND seq = $2', [
      row.disputeId,
      row.seq,
      JSON.stringify(data),
    ]);
  },
};
