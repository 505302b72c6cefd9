import { open, openText, seal, sealToText, type EncryptionKeyring, type Sealed } from '@orrange/secrets';
import type { Attachment } from '../domain/dispute';
import type { JournalEntry } from '../domain/journal';

/** What is sealed of an evidence item: everything its author wrote. */
export interface EvidenceContent {
  body: string;
  attachments: Attachment[];
}

/** An item as stored: sealed (keyId, iv, tag, ciphertext), or in the clear (body, attachments) when written before sealing. */
export interface StoredEvidence {
  id: string;
  disputeId: string;
  body: string | null;
  attachments: unknown;
  keyId: string | null;
  iv: Uint8Array | null;
  tag: Uint8Array | null;
  ciphertext: Uint8Array | null;
}

/** Binds an item's ciphertext to its case and id: sealed content cannot be moved to another item. */
const evidenceAad = (disputeId: string, id: string) => `dispute-evidence:v1:${disputeId}:${id}`;

export function sealEvidence(
  keyring: EncryptionKeyring,
  item: { id: string; disputeId: string },
  content: EvidenceContent,
): Sealed {
  return seal(keyring, JSON.stringify(content), evidenceAad(item.disputeId, item.id));
}

export function openEvidence(keyring: EncryptionKeyring, stored: StoredEvidence): EvidenceContent {
  if (stored.keyId === null) return { body: stored.body!, attachments: stored.attachments as Attachment[] };
  return JSON.parse(
    open(
      keyring,
      {
        keyId: stored.keyId,
        iv: Buffer.from(stored.iv!),
        tag: Buffer.from(stored.tag!),
        ciphertext: Buffer.from(stored.ciphertext!),
      },
      evidenceAad(stored.disputeId, stored.id),
    ),
  ) as EvidenceContent;
}

/**
 * The journal's fields that hold what a person wrote (an evidence item's body and attachments): stored sealed, under
 * `sealed`, bound to the entry. The entry's hash is the hash of the content in the clear, so the chain verifies the
 * same however often the content is sealed again.
 */
const JOURNAL_SEALED_FIELDS = ['body', 'attachments'] as const;
const journalAad = (disputeId: string, seq: number) => `dispute-journal:v1:${disputeId}:${seq}`;

export function sealJournalData(
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

export function openJournalData(
  keyring: EncryptionKeyring,
  disputeId: string,
  seq: number,
  data: JournalEntry['data'],
): JournalEntry['data'] {
  if (typeof data.sealed !== 'string') return data;
  const { sealed, ...rest } = data;
  return { ...rest, ...(JSON.parse(openText(keyring, sealed, journalAad(disputeId, seq))) as JournalEntry['data']) };
}
