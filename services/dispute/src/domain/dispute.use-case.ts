import { randomUUID } from 'node:crypto';
import { ASSET_SCALES, FIAT_SCALE, normalize, type Asset } from '@orrange/money';
import type { EventPayload } from '@orrange/queue';
import type { EncryptionKeyring } from '@orrange/secrets';
import { conflict, keyset, pageView, readPage } from '@orrange/http';
import { z } from 'zod';
import * as repo from '../data/dispute.repository';
import type { DisputeDatabase, DisputeTx } from '../data/prisma';
import { disputeEvents } from './dispute.events';
import {
  alreadyResolved,
  authorizeAssignment,
  authorizeEvidence,
  authorizeExport,
  authorizeRead,
  authorizeResolution,
  disputeNotFound,
  disputeView,
  evidenceView,
  isAdmin,
  isArbitrator,
  resolutionBuyerAmount,
  settlement,
  type Actor,
  type Attachment,
  type DisputeCase,
  type DisputeStatus,
  type Evidence,
  type Outcome,
  type PartySide,
} from './dispute';
import { canonicalJson, nextEntry, verifyChain, type JournalEntry, type JournalInput, type JsonValue } from './journal';

/** A case holds at most this many evidence items: a bound on storage, on the read and on the export. */
export const EVIDENCE_PER_CASE_MAX = 200;
/**
 * And at most this much text in all (see evidenceBytes): 200 full items would make GET /disputes/:id and its
 * export several megabytes each (the journal repeats every item); a case is argued, not archived, here.
 */
export const EVIDENCE_BYTES_PER_CASE_MAX = 512 * 1024;
/** A deadline that fires this much early (clock skew between hosts) still counts as due. */
const DEADLINE_TOLERANCE_MS = 1_000;

/**
 * What arbitration counts (messaging/arbitration.metrics.ts registers them on the service's registry): declared here so
 * that the use cases need no metrics library.
 */
export interface ArbitrationMetrics {
  escalations: { inc(labels: { reason: 'PARTY_SILENT' | 'UNASSIGNED_TOO_LONG' }): void };
  timeToAssignment: { observe(seconds: number): void };
  timeToResolution: { observe(seconds: number): void };
}

/** What the event handlers need: they work in the consumer's transaction, never on the pool. */
export interface DisputeEventDeps {
  metrics: ArbitrationMetrics;
  evidenceWindowMs: number;
  assignmentTimeoutMs: number;
}

export interface DisputeDeps extends DisputeEventDeps {
  /** The service's data through its generated Prisma client. */
  db: DisputeDatabase;
  /** Seals evidence at rest (and the journal's copy of it, and stored answers that carry it): it may hold bank details. */
  keyring: EncryptionKeyring;
}

/**
 * Appends to the case journal; the caller holds the case row lock, so the chain can never fork. An entry that
 * copies evidence content needs the keyring to store it sealed.
 */
async function record(
  tx: DisputeTx,
  disputeCase: DisputeCase,
  input: JournalInput,
  at: Date,
  keyring?: EncryptionKeyring,
): Promise<DisputeCase> {
  const entry = nextEntry(disputeCase.id, { seq: disputeCase.journalSeq, hash: disputeCase.journalHead }, input, at);
  await repo.appendJournal(tx, entry, keyring);
  return { ...disputeCase, journalSeq: entry.seq, journalHead: entry.hash };
}

async function lockVisible(tx: DisputeTx, id: string): Promise<DisputeCase> {
  const disputeCase = await repo.lockCase(tx, id);
  if (!disputeCase) throw disputeNotFound();
  return disputeCase;
}

const secondsSince = (from: Date, to: Date) => Math.max(0, (to.getTime() - from.getTime()) / 1000);

// ---- events -------------------------------------------------------------------------------------------

/**
 * `trade.disputed` → the case, with the trade's parties and amounts, its journal's first entry and both
 * deadlines (columns of the case: the timer sweepers fire them), all in the consumer's transaction. A second
 * delivery (or another event for the same trade or dispute id) finds the unique keys taken and changes nothing.
 */
export async function openCase(
  deps: DisputeEventDeps,
  tx: DisputeTx,
  disputed: EventPayload<'trade.disputed'>,
): Promise<DisputeCase | null> {
  const scale = ASSET_SCALES[disputed.asset as Asset];
  const now = new Date();
  const created = await repo.insertCase(tx, {
    id: disputed.disputeId,
    tradeId: disputed.tradeId,
    openedBy: disputed.openedBy,
    reason: disputed.reason,
    buyerId: disputed.buyerId,
    sellerId: disputed.sellerId,
    asset: disputed.asset,
    amount: normalize(disputed.amount, scale),
    fiatCurrency: disputed.fiatCurrency,
    fiatAmount: normalize(disputed.fiatAmount, FIAT_SCALE),
    createdAt: now,
    evidenceDeadlineAt: new Date(now.getTime() + deps.evidenceWindowMs),
    assignmentDeadlineAt: new Date(now.getTime() + deps.assignmentTimeoutMs),
  });
  if (!created) return null;
  const data = {
    tradeId: disputed.tradeId,
    openedBy: disputed.openedBy,
    reason: disputed.reason,
    buyerId: disputed.buyerId,
    sellerId: disputed.sellerId,
    asset: disputed.asset,
    amount: created.amount,
    fiatCurrency: disputed.fiatCurrency,
    fiatAmount: created.fiatAmount,
  };
  return record(tx, created, { action: 'OPENED', actorId: disputed.openedBy, data }, now);
}

/** The two timers of a case; each is a deadline column of the case and fires at most once. */
export const DISPUTE_TIMERS = ['evidence-window', 'assignment-timeout'] as const;
export type DisputeTimer = (typeof DISPUTE_TIMERS)[number];

/**
 * Fires one timer of a case if it is due and has not fired, re-checked under the case's row lock, so sweepers on
 * several replicas, or a sweep racing an assignment or a resolution, never act twice or on a case that moved on.
 * Past the evidence window, each party that submitted nothing is flagged for default judgment; unassigned past the
 * assignment timeout, the case escalates. Neither happens to a resolved case; an escalation is counted once the
 * transaction has committed. Returns whether the timer fired.
 */
export async function fireTimer(
  deps: DisputeEventDeps,
  tx: DisputeTx,
  disputeId: string,
  timer: DisputeTimer,
  now = new Date(),
): Promise<boolean> {
  const disputeCase = await repo.lockCase(tx, disputeId);
  if (!disputeCase || disputeCase.status === 'RESOLVED') return false;
  if (timer === 'evidence-window') {
    if (disputeCase.evidenceClosedAt || !isDue(disputeCase.evidenceDeadlineAt, now)) return false;
    const spoke = await repo.sidesWithEvidence(tx, disputeCase.id);
    const silent = (['BUYER', 'SELLER'] as PartySide[]).filter((side) => !spoke.includes(side));
    await repo.closeEvidenceWindow(tx, disputeCase.id, silent, now);
    if (silent.length === 0) return true;
    await record(
      tx,
      disputeCase,
      { action: 'FLAGGED_DEFAULT_JUDGMENT', actorId: null, data: { against: silent } },
      now,
    );
    await disputeEvents.escalated(tx, disputeCase, 'PARTY_SILENT');
    tx.afterCommit(() => deps.metrics.escalations.inc({ reason: 'PARTY_SILENT' }));
    return true;
  }
  if (disputeCase.status !== 'OPEN' || disputeCase.escalatedAt || !isDue(disputeCase.assignmentDeadlineAt, now))
    return false;
  await repo.markEscalated(tx, disputeCase.id, now);
  await record(tx, disputeCase, { action: 'ESCALATED', actorId: null, data: { reason: 'UNASSIGNED_TOO_LONG' } }, now);
  await disputeEvents.escalated(tx, disputeCase, 'UNASSIGNED_TOO_LONG');
  tx.afterCommit(() => deps.metrics.escalations.inc({ reason: 'UNASSIGNED_TOO_LONG' }));
  return true;
}

/** A deadline that this host's clock sees up to DEADLINE_TOLERANCE_MS early (skew with Postgres's) counts as due. */
function isDue(deadline: Date, now: Date): boolean {
  return now.getTime() + DEADLINE_TOLERANCE_MS >= deadline.getTime();
}

/** `trade.resolved`: trade-execution moved the escrow; the case records that it is settled. */
export async function onTradeResolved(tx: DisputeTx, resolved: EventPayload<'trade.resolved'>): Promise<void> {
  const disputeCase = await repo.lockCaseByTrade(tx, resolved.tradeId);
  // The case always exists before its resolution; if not yet here, retry until trade.disputed is applied.
  if (!disputeCase) throw new Error(`no dispute for trade ${resolved.tradeId} yet`);
  if (disputeCase.settledAt) return;
  const now = new Date();
  await repo.markSettled(tx, disputeCase.id, now);
  await record(
    tx,
    disputeCase,
    {
      action: 'SETTLED',
      actorId: null,
      data: {
        outcome: resolved.outcome,
        buyerAmount: resolved.buyerAmount,
        sellerAmount: resolved.sellerAmount,
        matchesDecision: matchesDecision(disputeCase, resolved),
      },
    },
    now,
  );
}

function matchesDecision(disputeCase: DisputeCase, resolved: EventPayload<'trade.resolved'>): boolean {
  const s = settlement(disputeCase);
  if (!s) return false;
  const scale = ASSET_SCALES[disputeCase.asset];
  return (
    disputeCase.outcome === resolved.outcome &&
    s.buyerAmount === normalize(resolved.buyerAmount, scale) &&
    s.sellerAmount === normalize(resolved.sellerAmount, scale)
  );
}

// ---- HTTP use cases -----------------------------------------------------------------------------------

/** A case's evidence, opened, read on the primary (after acting on the case, or as part of reading it). */
const evidenceOf = (deps: DisputeDeps, id: string) =>
  deps.db.query((client) => repo.listEvidence(client, deps.keyring, id));

export async function getDispute(deps: DisputeDeps, actor: Actor, id: string) {
  const disputeCase = await deps.db.query((client) => repo.findCase(client, id));
  if (!disputeCase) throw disputeNotFound();
  authorizeRead(disputeCase, actor);
  return disputeView(disputeCase, await evidenceOf(deps, id));
}

export interface ListQuery {
  status?: DisputeStatus;
  limit: number;
  cursor?: string;
}

/** Arbitrators and admins list every case, users the cases they are a party to. List items carry no evidence. */
/** Lists tolerate a replica's lag (REPLICA_LAG_MAX_MS); one case (getDispute, read after acting on it) does not. */
export async function listDisputes(deps: DisputeDeps, actor: Actor, q: ListQuery) {
  const partyId = isAdmin(actor) || isArbitrator(actor) ? undefined : actor.userId;
  const page = await readPage(caseOrder, q, (after, rowsMax) =>
    deps.db.queryRead((client) =>
      repo.listCases(client, {
        status: q.status,
        partyId,
        after: after && { createdAt: new Date(after[0]), id: after[1] },
        limit: rowsMax,
      }),
    ),
  );
  return pageView(page, (disputeCase) => disputeView(disputeCase));
}

/** The list's sort key: the last case's creation time and id. */
const caseOrder = keyset(
  z.tuple([z.iso.datetime(), z.string().min(1).max(64)]),
  (disputeCase: DisputeCase) => [disputeCase.createdAt.toISOString(), disputeCase.id] as [string, string],
);

export async function addEvidence(
  deps: DisputeDeps,
  actor: Actor,
  id: string,
  input: { body: string; attachments?: Attachment[] },
) {
  return deps.db.transaction(
    async (tx) => {
      const disputeCase = await lockVisible(tx, id);
      const authorRole = authorizeEvidence(disputeCase, actor);
      const evidence = {
        id: randomUUID(),
        disputeId: id,
        authorId: actor.userId,
        authorRole,
        body: input.body,
        attachments: input.attachments ?? [],
        createdAt: new Date(),
      };
      const totals = await repo.evidenceTotals(tx, id);
      if (totals.count >= EVIDENCE_PER_CASE_MAX)
        throw conflict('DISPUTE.EVIDENCE_LIMIT', `A dispute holds at most ${EVIDENCE_PER_CASE_MAX} evidence items.`);
      if (totals.bytes + evidenceBytes(evidence) > EVIDENCE_BYTES_PER_CASE_MAX) {
        throw conflict(
          'DISPUTE.EVIDENCE_LIMIT',
          `A dispute holds at most ${EVIDENCE_BYTES_PER_CASE_MAX / 1024} KiB of evidence; ${Math.max(0, EVIDENCE_BYTES_PER_CASE_MAX - totals.bytes)} bytes are left.`,
        );
      }
      await repo.insertEvidence(tx, deps.keyring, evidence, evidenceBytes(evidence));
      const data = { evidenceId: evidence.id, authorRole, ...(evidenceRecord(evidence) as Record<string, JsonValue>) };
      await record(
        tx,
        disputeCase,
        { action: 'EVIDENCE_ADDED', actorId: actor.userId, data },
        evidence.createdAt,
        deps.keyring,
      );
      return evidenceView(evidence);
    },
    { retryable: true },
  );
}

export async function assignDispute(deps: DisputeDeps, actor: Actor, id: string, input: { arbitratorId?: string }) {
  const { disputeCase, firstAssignment } = await deps.db.transaction(
    async (tx) => {
      const current = await lockVisible(tx, id);
      const arbitratorId = authorizeAssignment(current, actor, input.arbitratorId);
      if (current.arbitratorId === arbitratorId) return { disputeCase: current, firstAssignment: false };
      const now = new Date();
      const assigned = await repo.assignCase(tx, current, arbitratorId, now);
      const disputeCase = await record(
        tx,
        assigned,
        {
          action: 'ASSIGNED',
          actorId: actor.userId,
          data: { arbitratorId, previousArbitratorId: current.arbitratorId },
        },
        now,
      );
      await disputeEvents.assigned(tx, disputeCase);
      return { disputeCase, firstAssignment: current.assignedAt === null };
    },
    { retryable: true },
  );
  if (firstAssignment)
    deps.metrics.timeToAssignment.observe(secondsSince(disputeCase.createdAt, disputeCase.assignedAt!));
  return disputeView(disputeCase, await evidenceOf(deps, id));
}

/**
 * The decision that moves the escrow: under the case row lock, re-checks who may decide and that nobody
 * has, then resolves with a conditional UPDATE and writes `dispute.resolved` to the outbox in the same
 * transaction. Two racing resolutions: one wins, the other finds the case RESOLVED and gets 409.
 */
export async function resolveDispute(
  deps: DisputeDeps,
  actor: Actor,
  id: string,
  input: { outcome: Outcome; buyerUnitsFor?: (asset: Asset) => bigint; note: string },
) {
  const disputeCase = await deps.db.transaction(
    async (tx) => {
      const current = await lockVisible(tx, id);
      authorizeResolution(current, actor);
      const buyerAmount = resolutionBuyerAmount(current, input.outcome, input.buyerUnitsFor);
      const now = new Date();
      const resolved = await repo.resolveCase(tx, id, {
        outcome: input.outcome,
        buyerAmount,
        note: input.note,
        resolvedBy: actor.userId,
        at: now,
      });
      if (!resolved) throw alreadyResolved();
      const disputeCase = await record(
        tx,
        resolved,
        {
          action: 'RESOLVED',
          actorId: actor.userId,
          data: { outcome: input.outcome, note: input.note, ...settlement(resolved)! },
        },
        now,
      );
      await disputeEvents.resolved(tx, disputeCase);
      return disputeCase;
    },
    { retryable: true },
  );
  deps.metrics.timeToResolution.observe(secondsSince(disputeCase.createdAt, disputeCase.resolvedAt!));
  return disputeView(disputeCase, await evidenceOf(deps, id));
}

/** The case, its evidence and its whole journal from one snapshot, with the hash chain re-verified. */
export async function exportDispute(deps: DisputeDeps, actor: Actor, id: string) {
  return deps.db.transaction(
    async (tx) => {
      const disputeCase = await repo.findCase(tx.client, id);
      if (!disputeCase) throw disputeNotFound();
      authorizeExport(disputeCase, actor);
      const [evidence, journal] = await Promise.all([
        repo.listEvidence(tx.client, deps.keyring, id),
        repo.readJournal(tx.client, deps.keyring, id),
      ]);
      const chain = verifyChain(journal, { seq: disputeCase.journalSeq, hash: disputeCase.journalHead });
      const evidenceMismatch = evidenceNotInJournal(evidence, journal);
      const verification = evidenceMismatch.length ? { ...chain, verified: false, evidenceMismatch } : chain;
      return { dispute: disputeView(disputeCase, evidence), journal, verification };
    },
    { isolation: 'REPEATABLE READ' },
  );
}

/** The size an evidence item counts for against EVIDENCE_BYTES_PER_CASE_MAX, stored beside its sealed content (repo.evidenceTotals sums it). */
export function evidenceBytes(evidence: { body: string; attachments: readonly Attachment[] }): number {
  return (
    Buffer.byteLength(evidence.body) +
    evidence.attachments.reduce((sum, a) => sum + Buffer.byteLength(a.name) + Buffer.byteLength(a.url ?? '') + 64, 0)
  );
}

/** The journal's copy of each evidence item, as hashed when it was added. */
function evidenceRecord(evidence: { body: string; attachments: readonly Attachment[] }): JsonValue {
  return {
    body: evidence.body,
    attachments: evidence.attachments.map((a) => ({ name: a.name, sha256: a.sha256, url: a.url ?? null })),
  };
}

/**
 * Evidence rows live beside the journal; each must equal the copy its journal entry hashed. Returns the ids
 * of rows that were edited, or that no journal entry vouches for.
 */
function evidenceNotInJournal(evidence: readonly Evidence[], journal: readonly JournalEntry[]): string[] {
  const recorded = new Map<string, string>();
  for (const entry of journal) {
    if (entry.action === 'EVIDENCE_ADDED')
      recorded.set(
        String(entry.data.evidenceId),
        canonicalJson({ body: entry.data.body ?? null, attachments: entry.data.attachments ?? null }),
      );
  }
  return evidence.filter((e) => recorded.get(e.id) !== canonicalJson(evidenceRecord(e))).map((e) => e.id);
}
