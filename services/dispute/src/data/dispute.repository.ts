import type { SqlRunner, Tx } from '@orrange/db';
import { ASSET_SCALES, FIAT_SCALE, normalize, type Asset } from '@orrange/money';
import {
  open,
  openText,
  seal,
  sealedTextPrefix,
  sealToText,
  type EncryptionKeyring,
  type SealedColumn,
} from '@orrange/secrets';
import type {
  Attachment,
  AuthorRole,
  DisputeCase,
  DisputeStatus,
  Evidence,
  Outcome,
  PartySide,
} from '../domain/dispute';
import type { JournalEntry } from '../domain/journal';

interface CaseRow {
  id: string;
  trade_id: string;
  opened_by: string;
  reason: string;
  buyer_id: string;
  seller_id: string;
  asset: Asset;
  amount: string;
  fiat_currency: string;
  fiat_amount: string;
  status: DisputeStatus;
  arbitrator_id: string | null;
  assigned_at: Date | null;
  outcome: Outcome | null;
  buyer_amount: string | null;
  resolution_note: string | null;
  resolved_by: string | null;
  resolved_at: Date | null;
  evidence_deadline_at: Date;
  assignment_deadline_at: Date;
  evidence_closed_at: Date | null;
  default_judgment_against: PartySide[];
  escalated_at: Date | null;
  settled_at: Date | null;
  created_at: Date;
  journal_seq: number;
  journal_head: string | null;
}

function toCase(row: CaseRow): DisputeCase {
  const scale = ASSET_SCALES[row.asset];
  return {
    id: row.id,
    tradeId: row.trade_id,
    openedBy: row.opened_by,
    reason: row.reason,
    buyerId: row.buyer_id,
    sellerId: row.seller_id,
    asset: row.asset,
    amount: normalize(row.amount, scale),
    fiatCurrency: row.fiat_currency,
    fiatAmount: normalize(row.fiat_amount, FIAT_SCALE),
    status: row.status,
    arbitratorId: row.arbitrator_id,
    assignedAt: row.assigned_at,
    outcome: row.outcome,
    buyerAmount: row.buyer_amount === null ? null : normalize(row.buyer_amount, scale),
    resolutionNote: row.resolution_note,
    resolvedBy: row.resolved_by,
    resolvedAt: row.resolved_at,
    evidenceDeadlineAt: row.evidence_deadline_at,
    assignmentDeadlineAt: row.assignment_deadline_at,
    evidenceClosedAt: row.evidence_closed_at,
    defaultJudgmentAgainst: row.default_judgment_against ?? [],
    escalatedAt: row.escalated_at,
    settledAt: row.settled_at,
    createdAt: row.created_at,
    journalSeq: row.journal_seq,
    journalHead: row.journal_head,
  };
}

/** A case as opened: the trade's projection and the deadlines; the rest takes its column defaults. */
export type NewCase = Pick<
  DisputeCase,
  | 'id'
  | 'tradeId'
  | 'openedBy'
  | 'reason'
  | 'buyerId'
  | 'sellerId'
  | 'asset'
  | 'amount'
  | 'fiatCurrency'
  | 'fiatAmount'
  | 'createdAt'
  | 'evidenceDeadlineAt'
  | 'assignmentDeadlineAt'
>;

/** Inserts the case unless one exists for this id or trade; returns null for such a duplicate. */
export async function insertCase(tx: Tx, newCase: NewCase): Promise<DisputeCase | null> {
  const [row] = await tx.query<CaseRow>(
    `INSERT INTO disputes (id, trade_id, opened_by, reason, buyer_id, seller_id, asset, amount, fiat_currency, fiat_amount, created_at, evidence_deadline_at, assignment_deadline_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
     ON CONFLICT DO NOTHING RETURNING *`,
    [
      newCase.id,
      newCase.tradeId,
      newCase.openedBy,
      newCase.reason,
      newCase.buyerId,
      newCase.sellerId,
      newCase.asset,
      newCase.amount,
      newCase.fiatCurrency,
      newCase.fiatAmount,
      newCase.createdAt,
      newCase.evidenceDeadlineAt,
      newCase.assignmentDeadlineAt,
    ],
  );
  return row ? toCase(row) : null;
}

export async function findCase(db: SqlRunner, id: string): Promise<DisputeCase | null> {
  const [row] = await db.query<CaseRow>('SELECT * FROM disputes WHERE id = $1', [id]);
  return row ? toCase(row) : null;
}

/** Locks the case row for the rest of the transaction: every change and journal append goes through here. */
export async function lockCase(tx: Tx, id: string): Promise<DisputeCase | null> {
  const [row] = await tx.query<CaseRow>('SELECT * FROM disputes WHERE id = $1 FOR UPDATE', [id]);
  return row ? toCase(row) : null;
}

export async function lockCaseByTrade(tx: Tx, tradeId: string): Promise<DisputeCase | null> {
  const [row] = await tx.query<CaseRow>('SELECT * FROM disputes WHERE trade_id = $1 FOR UPDATE', [tradeId]);
  return row ? toCase(row) : null;
}

export async function assignCase(tx: Tx, id: string, arbitratorId: string, at: Date): Promise<DisputeCase> {
  const [row] = await tx.query<CaseRow>(
    `UPDATE disputes SET arbitrator_id = $2, assigned_at = COALESCE(assigned_at, $3), status = 'UNDER_REVIEW'
     WHERE id = $1 AND status <> 'RESOLVED' RETURNING *`,
    [id, arbitratorId, at],
  );
  return toCase(row!);
}

/** Resolves a case that is not resolved yet; null when it already was (the caller answers 409). */
export async function resolveCase(
  tx: Tx,
  id: string,
  r: { outcome: Outcome; buyerAmount: string | null; note: string; resolvedBy: string; at: Date },
): Promise<DisputeCase | null> {
  const [row] = await tx.query<CaseRow>(
    `UPDATE disputes SET status = 'RESOLVED', outcome = $2, buyer_amount = $3, resolution_note = $4, resolved_by = $5, resolved_at = $6
     WHERE id = $1 AND status <> 'RESOLVED' RETURNING *`,
    [id, r.outcome, r.buyerAmount, r.note, r.resolvedBy, r.at],
  );
  return row ? toCase(row) : null;
}

export async function closeEvidenceWindow(tx: Tx, id: string, against: PartySide[], at: Date): Promise<void> {
  await tx.query('UPDATE disputes SET evidence_closed_at = $2, default_judgment_against = $3 WHERE id = $1', [
    id,
    at,
    against,
  ]);
}

export async function markEscalated(tx: Tx, id: string, at: Date): Promise<void> {
  await tx.query('UPDATE disputes SET escalated_at = $2 WHERE id = $1', [id, at]);
}

/**
 * Cases whose timer is due and has not fired, oldest deadline first, at most `limit`, except `skip`: the same
 * conditions as fireTimer re-checks under the lock, on the partial indexes of migration dispute_timers_due.
 */
export async function dueTimerCases(
  db: SqlRunner,
  timer: 'evidence-window' | 'assignment-timeout',
  limit: number,
  skip: readonly string[] = [],
): Promise<string[]> {
  const rows = await db.query<{ id: string }>(
    timer === 'evidence-window'
      ? `SELECT id FROM disputes WHERE evidence_closed_at IS NULL AND status <> 'RESOLVED' AND evidence_deadline_at <= now() AND id <> ALL($2::text[]) ORDER BY evidence_deadline_at LIMIT $1`
      : `SELECT id FROM disputes WHERE escalated_at IS NULL AND status = 'OPEN' AND assignment_deadline_at <= now() AND id <> ALL($2::text[]) ORDER BY assignment_deadline_at LIMIT $1`,
    [limit, skip],
  );
  return rows.map((r) => r.id);
}

export async function markSettled(tx: Tx, id: string, at: Date): Promise<void> {
  await tx.query('UPDATE disputes SET settled_at = $2 WHERE id = $1', [id, at]);
}

/** An item as stored: its body and attachments sealed (key_id, iv, tag, ciphertext), or in the clear when written before sealing. */
interface EvidenceRow {
  id: string;
  dispute_id: string;
  author_id: string;
  author_role: AuthorRole;
  body: string | null;
  attachments: Attachment[];
  key_id: string | null;
  iv: Buffer | null;
  tag: Buffer | null;
  ciphertext: Buffer | null;
  created_at: Date;
}

/** What is sealed of an item: everything its author wrote. */
interface EvidenceContent {
  body: string;
  attachments: Attachment[];
}

/** Binds an item's ciphertext to its case and id: sealed content cannot be moved to another item. */
const evidenceAad = (disputeId: string, id: string) => `dispute-evidence:v1:${disputeId}:${id}`;

function evidenceContent(keyring: EncryptionKeyring, r: EvidenceRow): EvidenceContent {
  if (r.key_id === null) return { body: r.body!, attachments: r.attachments };
  return JSON.parse(
    open(
      keyring,
      { keyId: r.key_id, iv: r.iv!, tag: r.tag!, ciphertext: r.ciphertext! },
      evidenceAad(r.dispute_id, r.id),
    ),
  ) as EvidenceContent;
}

const toEvidence = (keyring: EncryptionKeyring, r: EvidenceRow): Evidence => ({
  id: r.id,
  disputeId: r.dispute_id,
  authorId: r.author_id,
  authorRole: r.author_role,
  ...evidenceContent(keyring, r),
  createdAt: r.created_at,
});

/** Stores an item sealed; `bytes` is what it counts for against the case's limit (the database cannot measure ciphertext). */
export async function insertEvidence(tx: Tx, keyring: EncryptionKeyring, e: Evidence, bytes: number): Promise<void> {
  const content: EvidenceContent = { body: e.body, attachments: e.attachments };
  const s = seal(keyring, JSON.stringify(content), evidenceAad(e.disputeId, e.id));
  await tx.query(
    'INSERT INTO evidence (id, dispute_id, author_id, author_role, key_id, iv, tag, ciphertext, content_bytes, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)',
    [e.id, e.disputeId, e.authorId, e.authorRole, s.keyId, s.iv, s.tag, s.ciphertext, bytes, e.createdAt],
  );
}

/** Evidence of a case, oldest first, opened. Bounded: a case holds at most EVIDENCE_PER_CASE_MAX items. */
export async function listEvidence(db: SqlRunner, keyring: EncryptionKeyring, disputeId: string): Promise<Evidence[]> {
  const rows = await db.query<EvidenceRow>('SELECT * FROM evidence WHERE dispute_id = $1 ORDER BY created_at, id', [
    disputeId,
  ]);
  return rows.map((row) => toEvidence(keyring, row));
}

/** How many evidence items a case holds and their size as domain evidenceBytes measured it, in one round trip. */
export async function evidenceTotals(tx: Tx, disputeId: string): Promise<{ count: number; bytes: number }> {
  const [row] = await tx.query<{ count: number; bytes: string }>(
    'SELECT count(*)::int AS count, coalesce(sum(content_bytes), 0)::text AS bytes FROM evidence WHERE dispute_id = $1',
    [disputeId],
  );
  return { count: row!.count, bytes: Number(row!.bytes) };
}

/** For pnpm secrets:reencrypt: every item not sealed under the active key, plaintext ones included, by id. */
export const sealedEvidence: SealedColumn<EvidenceRow & { cursor: string }> = {
  name: 'dispute.evidence',
  stale: (tx, activeKid, after, limit) =>
    tx.query(
      `SELECT id::text AS cursor, * FROM evidence WHERE key_id IS DISTINCT FROM $1 AND ($2::uuid IS NULL OR id > $2::uuid) ORDER BY id LIMIT $3 FOR UPDATE`,
      [activeKid, after, limit],
    ),
  async reseal(tx, keyring, row) {
    const s = seal(keyring, JSON.stringify(evidenceContent(keyring, row)), evidenceAad(row.dispute_id, row.id));
    await tx.query(
      `UPDATE evidence SET body = NULL, attachments = '[]', key_id = $2, iv = $3, tag = $4, ciphertext = $5 WHERE id = $1`,
      [row.id, s.keyId, s.iv, s.tag, s.ciphertext],
    );
  },
};

/** Which parties submitted evidence (the arbitrator's own notes do not count). */
export async function sidesWithEvidence(tx: Tx, disputeId: string): Promise<PartySide[]> {
  const rows = await tx.query<{ author_role: PartySide }>(
    `SELECT DISTINCT author_role FROM evidence WHERE dispute_id = $1 AND author_role IN ('BUYER', 'SELLER')`,
    [disputeId],
  );
  return rows.map((r) => r.author_role);
}

export interface CaseFilter {
  status?: DisputeStatus;
  /** Only cases where this user is a party; undefined for arbitrators and admins (all cases). */
  partyId?: string;
  after?: { createdAt: Date; id: string };
  limit: number;
}

/** Newest first, keyset-paginated on (created_at, id). */
export async function listCases(db: SqlRunner, f: CaseFilter): Promise<DisputeCase[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (f.status) where.push(`status = $${params.push(f.status)}`);
  if (f.partyId) where.push(`(buyer_id = $${params.push(f.partyId)} OR seller_id = $${params.length})`);
  if (f.after) where.push(`(created_at, id) < ($${params.push(f.after.createdAt)}, $${params.push(f.after.id)})`);
  const sql = `SELECT * FROM disputes ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT $${params.push(f.limit)}`;
  return (await db.query<CaseRow>(sql, params)).map(toCase);
}

interface JournalRow {
  dispute_id: string;
  seq: number;
  action: JournalEntry['action'];
  actor_id: string | null;
  data: JournalEntry['data'];
  prev_hash: string;
  hash: string;
  created_at: Date;
}

/**
 * The journal's fields that hold what a person wrote (an evidence item's body and attachments): stored sealed, under
 * `sealed`, bound to the entry. The entry's hash is the hash of the content in the clear, so the chain verifies the
 * same however often the content is sealed again.
 */
const JOURNAL_SEALED_FIELDS = ['body', 'attachments'] as const;
const journalAad = (disputeId: string, seq: number) => `dispute-journal:v1:${disputeId}:${seq}`;

function sealJournalData(
  keyring: EncryptionKeyring | undefined,
  disputeId: string,
  seq: number,
  data: JournalEntry['data'],
): JournalEntry['data'] {
  const secret = Object.fromEntries(
    Object.entries(data).filter(([field]) => (JOURNAL_SEALED_FIELDS as readonly string[]).includes(field)),
  );
  if (Object.keys(secret).length === 0) return data;
  if (!keyring) throw new Error(`journal entry ${disputeId}/${seq} holds sealed fields but no keyring was given`);
  const rest = Object.fromEntries(Object.entries(data).filter(([field]) => !(field in secret)));
  return { ...rest, sealed: sealToText(keyring, JSON.stringify(secret), journalAad(disputeId, seq)) };
}

function openJournalData(
  keyring: EncryptionKeyring,
  disputeId: string,
  seq: number,
  data: JournalEntry['data'],
): JournalEntry['data'] {
  if (typeof data.sealed !== 'string') return data;
  const { sealed, ...rest } = data;
  return { ...rest, ...(JSON.parse(openText(keyring, sealed, journalAad(disputeId, seq))) as JournalEntry['data']) };
}

/**
 * Appends one entry and moves the case's head, in one statement (one round trip); the caller holds the
 * case row lock. A data-modifying WITH always runs to completion, so the insert happens though nothing reads it.
 * An entry carrying evidence content needs the keyring: that content is stored sealed.
 */
export async function appendJournal(tx: Tx, e: JournalEntry, keyring?: EncryptionKeyring): Promise<void> {
  await tx.query(
    `WITH entry AS (
       INSERT INTO journal_entries (dispute_id, seq, action, actor_id, data, prev_hash, hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8))
     UPDATE disputes SET journal_seq = $2, journal_head = $7 WHERE id = $1`,
    [
      e.disputeId,
      e.seq,
      e.action,
      e.actorId,
      JSON.stringify(sealJournalData(keyring, e.disputeId, e.seq, e.data)),
      e.prevHash,
      e.hash,
      e.createdAt,
    ],
  );
}

/** A case's journal in the clear (sealed fields opened), as it was hashed. */
export async function readJournal(
  db: SqlRunner,
  keyring: EncryptionKeyring,
  disputeId: string,
): Promise<JournalEntry[]> {
  const rows = await db.query<JournalRow>('SELECT * FROM journal_entries WHERE dispute_id = $1 ORDER BY seq', [
    disputeId,
  ]);
  return rows.map((r) => ({
    disputeId: r.dispute_id,
    seq: r.seq,
    action: r.action,
    actorId: r.actor_id,
    data: openJournalData(keyring, r.dispute_id, r.seq, r.data),
    prevHash: r.prev_hash,
    hash: r.hash,
    createdAt: r.created_at.toISOString(),
  }));
}

/** For pnpm secrets:reencrypt: entries whose evidence content is in the clear or sealed under another key. */
export const sealedJournal: SealedColumn<JournalRow & { cursor: string }> = {
  name: 'dispute.journal_entries',
  stale: (tx, activeKid, after, limit) =>
    tx.query(
      `SELECT json_build_array(dispute_id, seq)::text AS cursor, * FROM journal_entries
        WHERE (data ?| ARRAY['body', 'attachments'] OR left(data->>'sealed', length($1)) <> $1)
          AND ($2::text IS NULL OR (dispute_id, seq) > ($2::json->>0, ($2::json->>1)::int))
        ORDER BY dispute_id, seq LIMIT $3 FOR UPDATE`,
      [sealedTextPrefix(activeKid), after, limit],
    ),
  async reseal(tx, keyring, row) {
    const data = sealJournalData(
      keyring,
      row.dispute_id,
      row.seq,
      openJournalData(keyring, row.dispute_id, row.seq, row.data),
    );
    await tx.query('UPDATE journal_entries SET data = $3 WHERE dispute_id = $1 AND seq = $2', [
      row.dispute_id,
      row.seq,
      JSON.stringify(data),
    ]);
  },
};

export async function countCasesByStatus(db: SqlRunner): Promise<Array<{ status: DisputeStatus; n: number }>> {
  return db.query('SELECT status, count(*)::int AS n FROM disputes GROUP BY status');
}
