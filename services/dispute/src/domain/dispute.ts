import { type AppError, conflict, forbidden, notFound, validationFailed } from '@orrange/http';
import { ASSET_SCALES, fromUnits, toUnits, type Asset } from '@orrange/money';

export const DISPUTE_STATUSES = ['OPEN', 'UNDER_REVIEW', 'RESOLVED'] as const;
export type DisputeStatus = (typeof DISPUTE_STATUSES)[number];
export const OUTCOMES = ['RELEASE_TO_BUYER', 'REFUND_SELLER', 'SPLIT'] as const;
export type Outcome = (typeof OUTCOMES)[number];
export type PartySide = 'BUYER' | 'SELLER';
export type AuthorRole = PartySide | 'ARBITRATOR' | 'ADMIN';

/** A case as stored: the dispute plus its projection of the trade. Amounts are fixed-scale decimal strings. */
export interface DisputeCase {
  id: string;
  tradeId: string;
  openedBy: string;
  reason: string;
  buyerId: string;
  sellerId: string;
  asset: Asset;
  amount: string;
  fiatCurrency: string;
  fiatAmount: string;
  status: DisputeStatus;
  arbitratorId: string | null;
  assignedAt: Date | null;
  outcome: Outcome | null;
  buyerAmount: string | null;
  resolutionNote: string | null;
  resolvedBy: string | null;
  resolvedAt: Date | null;
  evidenceDeadlineAt: Date;
  assignmentDeadlineAt: Date;
  evidenceClosedAt: Date | null;
  defaultJudgmentAgainst: PartySide[];
  escalatedAt: Date | null;
  settledAt: Date | null;
  createdAt: Date;
  journalSeq: number;
  journalHead: string | null;
}

export interface Attachment {
  name: string;
  sha256: string;
  url?: string;
}

export interface Evidence {
  id: string;
  disputeId: string;
  authorId: string;
  authorRole: AuthorRole;
  body: string;
  attachments: Attachment[];
  createdAt: Date;
}

/** Who is acting: the identity the gateway forwarded, reduced to what the domain needs. */
export interface Actor {
  userId: string;
  roles: readonly string[];
}

export const isAdmin = (actor: Actor) => actor.roles.includes('admin');
export const isArbitrator = (actor: Actor) => actor.roles.includes('arbitrator');

export function partySide(disputeCase: DisputeCase, userId: string): PartySide | null {
  if (disputeCase.buyerId === userId) return 'BUYER';
  if (disputeCase.sellerId === userId) return 'SELLER';
  return null;
}

const isAssigned = (disputeCase: DisputeCase, actor: Actor) =>
  disputeCase.arbitratorId !== null && disputeCase.arbitratorId === actor.userId;

/** The parties, the assigned arbitrator and admins see a case; to anyone else it does not exist. */
export function canRead(disputeCase: DisputeCase, actor: Actor): boolean {
  return partySide(disputeCase, actor.userId) !== null || isAssigned(disputeCase, actor) || isAdmin(actor);
}

export const disputeNotFound = () => notFound('DISPUTE.NOT_FOUND', 'No such dispute.');
export const alreadyResolved = () => conflict('DISPUTE.ALREADY_RESOLVED', 'This dispute is already resolved.');

/** 404 to those who may not see the case (its existence is private), 403 to those who may see but not act. */
function deny(disputeCase: DisputeCase, actor: Actor, detail: string): AppError {
  return canRead(disputeCase, actor) ? forbidden(detail) : disputeNotFound();
}

export function authorizeRead(disputeCase: DisputeCase, actor: Actor): void {
  if (!canRead(disputeCase, actor)) throw disputeNotFound();
}

/** Evidence comes from a party or the assigned arbitrator, while the case is not resolved. */
export function authorizeEvidence(disputeCase: DisputeCase, actor: Actor): AuthorRole {
  const side = partySide(disputeCase, actor.userId);
  const role: AuthorRole | null = side ?? (isAssigned(disputeCase, actor) ? 'ARBITRATOR' : null);
  if (!role) throw deny(disputeCase, actor, 'Only the parties and the assigned arbitrator add evidence.');
  if (disputeCase.status === 'RESOLVED') throw alreadyResolved();
  return role;
}

/**
 * An arbitrator takes a case for themself; an admin assigns anyone. Nobody arbitrates their own trade, an
 * arbitrator never takes a case someone else holds (an admin may reassign), and a resolved case stays so.
 */
export function authorizeAssignment(disputeCase: DisputeCase, actor: Actor, requested: string | undefined): string {
  const arbitratorId = requested ?? actor.userId;
  if (!isAdmin(actor)) {
    if (!isArbitrator(actor)) throw deny(disputeCase, actor, 'Only arbitrators and admins assign disputes.');
    if (arbitratorId !== actor.userId) throw forbidden('Arbitrators assign disputes to themselves only.');
  }
  if (disputeCase.status === 'RESOLVED') throw alreadyResolved();
  if (partySide(disputeCase, arbitratorId))
    throw forbidden('A party to the trade cannot arbitrate it.', 'DISPUTE.CONFLICT_OF_INTEREST');
  if (!isAdmin(actor) && disputeCase.arbitratorId !== null && disputeCase.arbitratorId !== actor.userId)
    throw conflict('DISPUTE.ALREADY_ASSIGNED', 'Another arbitrator holds this dispute.');
  return arbitratorId;
}

/** The assigned arbitrator or an admin resolves, once; an admin who is a party to the trade may not. */
export function authorizeResolution(disputeCase: DisputeCase, actor: Actor): void {
  if (!isAssigned(disputeCase, actor) && !isAdmin(actor))
    throw deny(disputeCase, actor, 'Only the assigned arbitrator or an admin resolves a dispute.');
  if (partySide(disputeCase, actor.userId))
    throw forbidden('A party to the trade cannot resolve it.', 'DISPUTE.CONFLICT_OF_INTEREST');
  if (disputeCase.status === 'RESOLVED') throw alreadyResolved();
}

/** Only exported cases leave with their whole journal: to the assigned arbitrator and admins. */
export function authorizeExport(disputeCase: DisputeCase, actor: Actor): void {
  if (!isAssigned(disputeCase, actor) && !isAdmin(actor))
    throw deny(disputeCase, actor, 'Only the assigned arbitrator or an admin exports a dispute.');
}

/**
 * What the buyer gets, checked against the case: `SPLIT` needs 0 < buyerAmount ≤ amount at the asset's
 * scale; the other outcomes take no buyerAmount. `buyerUnitsFor` reads the request's buyerAmount (if it has one)
 * in units of the case's asset. Returns the normalised amount, or null.
 */
export function resolutionBuyerAmount(
  disputeCase: DisputeCase,
  outcome: Outcome,
  buyerUnitsFor: ((asset: Asset) => bigint) | undefined,
): string | null {
  if (outcome !== 'SPLIT') {
    if (buyerUnitsFor !== undefined)
      throw validationFailed([{ path: 'buyerAmount', message: 'only a SPLIT takes buyerAmount' }]);
    return null;
  }
  if (buyerUnitsFor === undefined)
    throw validationFailed([{ path: 'buyerAmount', message: 'a SPLIT needs buyerAmount' }]);
  const scale = ASSET_SCALES[disputeCase.asset];
  const units = buyerUnitsFor(disputeCase.asset);
  if (units > toUnits(disputeCase.amount, scale))
    throw validationFailed([
      { path: 'buyerAmount', message: `must not exceed the disputed amount ${disputeCase.amount}` },
    ]);
  return fromUnits(units, scale);
}

/** What each side receives under an outcome, as decimal strings at the asset's scale. */
export function settlement(disputeCase: DisputeCase): { buyerAmount: string; sellerAmount: string } | null {
  if (!disputeCase.outcome) return null;
  const scale = ASSET_SCALES[disputeCase.asset];
  const amount = toUnits(disputeCase.amount, scale);
  const buyer =
    disputeCase.outcome === 'RELEASE_TO_BUYER'
      ? amount
      : disputeCase.outcome === 'REFUND_SELLER'
        ? 0n
        : toUnits(disputeCase.buyerAmount!, scale);
  return { buyerAmount: fromUnits(buyer, scale), sellerAmount: fromUnits(amount - buyer, scale) };
}

export function evidenceView(e: Evidence) {
  return {
    id: e.id,
    authorId: e.authorId,
    authorRole: e.authorRole,
    body: e.body,
    attachments: e.attachments,
    createdAt: e.createdAt.toISOString(),
  };
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** API.md's dispute, plus the trade projection, the deadlines and the settlement. */
export function disputeView(disputeCase: DisputeCase, evidence?: readonly Evidence[]) {
  return {
    id: disputeCase.id,
    tradeId: disputeCase.tradeId,
    openedBy: disputeCase.openedBy,
    reason: disputeCase.reason,
    status: disputeCase.status,
    arbitratorId: disputeCase.arbitratorId,
    outcome: disputeCase.outcome,
    ...(evidence ? { evidence: evidence.map(evidenceView) } : {}),
    createdAt: disputeCase.createdAt.toISOString(),
    resolvedAt: iso(disputeCase.resolvedAt),
    buyerId: disputeCase.buyerId,
    sellerId: disputeCase.sellerId,
    asset: disputeCase.asset,
    amount: disputeCase.amount,
    fiatCurrency: disputeCase.fiatCurrency,
    fiatAmount: disputeCase.fiatAmount,
    buyerAmount: disputeCase.buyerAmount,
    settlement: settlement(disputeCase),
    resolutionNote: disputeCase.resolutionNote,
    resolvedBy: disputeCase.resolvedBy,
    assignedAt: iso(disputeCase.assignedAt),
    deadlines: {
      evidenceUntil: disputeCase.evidenceDeadlineAt.toISOString(),
      assignmentBy: disputeCase.assignmentDeadlineAt.toISOString(),
    },
    evidenceClosedAt: iso(disputeCase.evidenceClosedAt),
    defaultJudgmentAgainst: disputeCase.defaultJudgmentAgainst,
    escalatedAt: iso(disputeCase.escalatedAt),
    settledAt: iso(disputeCase.settledAt),
  };
}
