import { createHash } from 'node:crypto';

/** What a case journal records. Every action on a case appends exactly one entry. */
export const JOURNAL_ACTIONS = [
  'OPENED',
  'EVIDENCE_ADDED',
  'ASSIGNED',
  'RESOLVED',
  'FLAGGED_DEFAULT_JUDGMENT',
  'ESCALATED',
  'SETTLED',
] as const;
export type JournalAction = (typeof JOURNAL_ACTIONS)[number];

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** The hash the first entry of every chain links to. */
export const GENESIS_HASH = '0'.repeat(64);

export interface JournalEntry {
  disputeId: string;
  seq: number;
  action: JournalAction;
  actorId: string | null;
  data: { [key: string]: JsonValue };
  createdAt: string;
  prevHash: string;
  hash: string;
}

/** Where a case's chain ends: the last sequence number and its hash (kept on the locked case row). */
export interface JournalHead {
  seq: number;
  hash: string | null;
}

export interface JournalInput {
  action: JournalAction;
  actorId: string | null;
  data: { [key: string]: JsonValue };
}

/**
 * JSON with object keys sorted at every level, so that the same entry always hashes the same, whatever
 * order Postgres' jsonb hands the keys back in.
 */
export function canonicalJson(value: JsonValue): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key]!)}`).join(',')}}`;
  }
  if (typeof value === 'number' && !Number.isSafeInteger(value))
    throw new TypeError('journal data holds integers only; money travels as strings');
  return JSON.stringify(value);
}

function entryHash(prevHash: string, entry: Omit<JournalEntry, 'hash' | 'prevHash'>): string {
  const body = canonicalJson({
    disputeId: entry.disputeId,
    seq: entry.seq,
    action: entry.action,
    actorId: entry.actorId,
    data: entry.data,
    createdAt: entry.createdAt,
  });
  return createHash('sha256')
    .update(prevHash + body)
    .digest('hex');
}

/** The next entry of a chain: seq + 1, linked to the head's hash. */
export function nextEntry(disputeId: string, head: JournalHead, input: JournalInput, at: Date): JournalEntry {
  const prevHash = head.hash ?? GENESIS_HASH;
  const entry = {
    disputeId,
    seq: head.seq + 1,
    action: input.action,
    actorId: input.actorId,
    data: input.data,
    createdAt: at.toISOString(),
  };
  return { ...entry, prevHash, hash: entryHash(prevHash, entry) };
}

export interface ChainVerification {
  verified: boolean;
  /** The first sequence number whose entry does not match its hash, its link, or its place in the chain. */
  brokenAt?: number;
  /** Evidence rows whose content differs from what the journal recorded when they were added. */
  evidenceMismatch?: string[];
}

/**
 * Re-hashes the chain from the start. An edited entry breaks its own hash; an edited hash breaks the next
 * entry's link; a removed entry breaks the sequence; a truncated tail disagrees with the case's head.
 */
export function verifyChain(entries: readonly JournalEntry[], head: JournalHead): ChainVerification {
  let prevHash = GENESIS_HASH;
  for (const [index, entry] of entries.entries()) {
    const expectedSeq = index + 1;
    if (entry.seq !== expectedSeq || entry.prevHash !== prevHash || entryHash(prevHash, entry) !== entry.hash)
      return { verified: false, brokenAt: expectedSeq };
    prevHash = entry.hash;
  }
  if (entries.length !== head.seq || (head.seq > 0 && head.hash !== prevHash))
    return { verified: false, brokenAt: Math.min(entries.length, head.seq) + 1 };
  return { verified: true };
}
