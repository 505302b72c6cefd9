import { randomUUID } from 'node:crypto';
import { UnrecoverableError } from 'bullmq';
import type { Database, Tx } from '@orrange/db';
import { conflict, forbidden, hasRole, notFound, type Identity } from '@orrange/http';
import { ASSET_SCALES, FIAT_SCALE, fiatAmountCents, fromUnits, normalize, numericUnits } from '@orrange/money';
import { enqueueEvent, enqueueEvents, outgoing, type EventPayload, type OutgoingEvent } from '@orrange/queue';
import { postMovementOrFail, postMovements } from '../data/ledger.repository';
import { recordCompletedTrade } from '../data/stats.repository';
import { insertTrades, lockTrade, matchesAlreadyHandled, recordRejectedMatches, updateTrade, type NewTrade, type TradeChanges, type TradeRow } from '../data/trade.repository';
import type { BusinessMetrics } from '../metrics';
import { safeUnits, unitsOf } from './holds.use-cases';
import { available, escrow, feeUnits, fees, held, journalId, type Leg, type Movement, type PostOutcome } from './ledger';
import { decide, escrowStatusAfter, type Actor, type EscrowEffect, type TradeAction, type TradeState } from './trade-state-machine';

export interface TradeDeps {
  db: Database;
  feeBps: number;
  /** The length of a payment-window minute (60 000 except in tests). */
  paymentMinuteMs: number;
  metrics: BusinessMetrics;
}

/**
 * order.matched, for a group of events in one transaction: moves each amount into ESCROW(trade) from the SELL
 * order's hold or from the seller's AVAILABLE, creates the trade AWAITING_PAYMENT and schedules its payment
 * deadline. A match that is not covered moves nothing, and match.rejected tells the order book.
 * Each is decided exactly as if the group were applied one event at a time, in order: the escrows are posted in
 * order, so a seller's balance covers the earlier matches first, and an event that shares its match or trade
 * with an earlier one of the group goes to a later run, where it sees that one's result (a redelivery under a
 * new event id is then a duplicate). A run costs the same few statements whatever its size.
 */
export async function openTrades(tx: Tx, events: EventPayload<'order.matched'>[], deps: TradeDeps): Promise<void> {
  for (const run of runsOfDistinctMatches(events)) await openTradeRun(tx, run, deps);
}

/** Matches with distinct match and trade ids: none of them can see another's effects, so one check serves all. */
async function openTradeRun(tx: Tx, events: EventPayload<'order.matched'>[], deps: TradeDeps): Promise<void> {
  const createdAt = new Date();
  const handled = await matchesAlreadyHandled(tx, events);
  const plans = events.map((e, i) => (handled[i] ? undefined : planTrade(e, createdAt, deps.paymentMinuteMs)));
  const funded = plans.filter((p): p is FundedPlan => p !== undefined && 'escrow' in p);
  const posted = await postMovements(tx, funded.map((p) => p.escrow));
  const outcomeOf = new Map<TradePlan, PostOutcome>(funded.map((p, i) => [p, posted[i]!]));
  const decisions = plans.map((p) => decideMatch(p, p && outcomeOf.get(p)));

  await recordRejectedMatches(tx, decisions.flatMap((d) => (d.kind === 'rejected' ? [{ matchId: d.e.matchId, tradeId: d.e.tradeId, reason: d.reason }] : [])));
  const trades = decisions.flatMap((d) => (d.kind === 'created' ? [d.trade] : []));
  const inserted = await insertTrades(tx, trades);
  const missing = trades.find((t) => !inserted.has(t.id));
  if (missing) throw new Error(`trade ${missing.id}: escrow posted but the trade row already exists`);
  await enqueueEvents(tx, decisions.flatMap(answersOf));
  // Once committed: a group retried after a conflict must not count its trades twice.
  tx.afterCommit(() => trades.forEach((t) => deps.metrics.tradeCreated(t.asset)));
}

type FundedPlan = { e: EventPayload<'order.matched'>; escrow: Movement; trade: NewTrade };
type TradePlan = { e: EventPayload<'order.matched'>; reject: string } | FundedPlan;
type MatchDecision = { kind: 'duplicate' } | { kind: 'rejected'; e: EventPayload<'order.matched'>; reason: string } | { kind: 'created'; trade: NewTrade };

/** The escrow movement and the trade of a match not handled yet, or why it cannot be a trade at all. */
function planTrade(e: EventPayload<'order.matched'>, createdAt: Date, paymentMinuteMs: number): TradePlan {
  const units = unitsOf(e.amount, e.asset);
  const priceCents = safeUnits(e.price, FIAT_SCALE);
  if (units === undefined || priceCents === undefined || priceCents <= 0n) return { e, reject: 'VALIDATION.FAILED' };
  if (e.sellerFunding === 'HOLD' && !e.sellOrderId) return { e, reject: 'VALIDATION.FAILED' };

  const source: Leg = e.sellerFunding === 'HOLD' ? held(e.sellerId, e.sellOrderId!, e.asset, -units) : available(e.sellerId, e.asset, -units);
  const movement: Movement = { id: journalId('escrow', e.tradeId), kind: 'ESCROW', ref: e.tradeId, legs: [source, escrow(e.sellerId, e.tradeId, e.asset, units)] };
  const trade: NewTrade = {
    id: e.tradeId, matchId: e.matchId, buyOrderId: e.buyOrderId, sellOrderId: e.sellOrderId, buyerId: e.buyerId, sellerId: e.sellerId,
    asset: e.asset, fiatCurrency: e.fiatCurrency, price: fromUnits(priceCents, FIAT_SCALE), amount: fromUnits(units, ASSET_SCALES[e.asset]),
    fiatAmount: fromUnits(fiatAmountCents(priceCents, units, e.asset), FIAT_SCALE), paymentMethod: e.paymentMethod,
    paymentWindowMinutes: e.paymentWindowMinutes, paymentDeadline: new Date(createdAt.getTime() + e.paymentWindowMinutes * paymentMinuteMs), createdAt,
  };
  return { e, escrow: movement, trade };
}

/** No plan: handled before. A DUPLICATE escrow: another delivery of this match escrowed it and created the trade, now committed. */
function decideMatch(plan: TradePlan | undefined, posted: PostOutcome | undefined): MatchDecision {
  if (!plan) return { kind: 'duplicate' };
  if ('reject' in plan) return { kind: 'rejected', e: plan.e, reason: plan.reject };
  if (posted === 'INSUFFICIENT') return { kind: 'rejected', e: plan.e, reason: 'WALLET.INSUFFICIENT_FUNDS' };
  if (posted === 'DUPLICATE') return { kind: 'duplicate' };
  return { kind: 'created', trade: plan.trade };
}

/** What the others hear about a decided match: trade.created with its delayed payment deadline, or match.rejected. */
function answersOf(d: MatchDecision): OutgoingEvent[] {
  if (d.kind === 'rejected') {
    const { e } = d;
    return [outgoing('match.rejected', { matchId: e.matchId, tradeId: e.tradeId, buyOrderId: e.buyOrderId, sellOrderId: e.sellOrderId, amount: e.amount, reason: d.reason })];
  }
  if (d.kind === 'duplicate') return [];
  const t = d.trade;
  return [
    outgoing('trade.created', { tradeId: t.id, matchId: t.matchId, buyerId: t.buyerId, sellerId: t.sellerId, asset: t.asset, fiatCurrency: t.fiatCurrency, amount: t.amount, price: t.price, fiatAmount: t.fiatAmount }),
    outgoing('trade.payment-deadline', { tradeId: t.id }, { deliverAt: t.paymentDeadline, id: journalId('payment-deadline', t.id) }),
  ];
}

/** Splits events, in order, into runs in which no two share a match id or a trade id. */
function runsOfDistinctMatches(events: EventPayload<'order.matched'>[]): EventPayload<'order.matched'>[][] {
  const runs: EventPayload<'order.matched'>[][] = [];
  let seen = new Set<string>();
  for (const e of events) {
    const keys = [`match:${e.matchId}`, `trade:${e.tradeId}`];
    if (runs.length === 0 || keys.some((k) => seen.has(k))) {
      runs.push([]);
      seen = new Set();
    }
    runs[runs.length - 1]!.push(e);
    for (const k of keys) seen.add(k);
  }
  return runs;
}

export type PartyAction = Extract<TradeAction, 'paid' | 'release' | 'cancel' | 'dispute'>;

/**
 * A party acts on a trade. The trade row is locked first, so racing release / cancel / dispute / deadline on
 * one trade run one after the other and each sees the previous result: exactly one of them wins.
 */
export async function actOnTrade(deps: TradeDeps, tradeId: string, who: Identity, action: PartyAction, reason?: string): Promise<{ trade: TradeRow; disputeId?: string }> {
  const result = await deps.db.transaction(async (tx) => {
    const trade = await lockTrade(tx, tradeId);
    if (!trade) throw notFound('TRADE.NOT_FOUND', 'No such trade.');
    const actor: Actor = who.userId === trade.buyer_id ? 'buyer' : who.userId === trade.seller_id ? 'seller' : 'stranger';
    if (actor === 'stranger') throw canSee(trade, who) ? forbidden('Only the parties of a trade may do this.', 'TRADE.NOT_A_PARTY') : notFound('TRADE.NOT_FOUND', 'No such trade.');
    const decision = decide(trade.status, action, actor, { deadlinePassed: Date.now() >= trade.payment_deadline.getTime() });
    if (!decision.ok && decision.reason === 'NOT_ALLOWED') throw forbidden(`The ${actor} may not ${action} a trade.`, 'TRADE.FORBIDDEN_ACTION');
    if (!decision.ok) throw conflict('TRADE.INVALID_STATE', `A trade in ${trade.status} does not allow "${action}" by the ${actor} now.`);
    const disputeId = action === 'dispute' ? randomUUID() : undefined;
    const changes: TradeChanges =
      action === 'paid' ? { status: decision.to, paidAt: true }
      : action === 'dispute' ? { status: decision.to, disputeId, disputedBy: who.userId }
      : action === 'cancel' ? { status: decision.to, cancelReason: 'BUYER_CANCELLED' }
      : { status: decision.to };
    const updated = await settle(tx, deps, trade, decision.to, decision.escrow, changes);
    if (disputeId) {
      await enqueueEvent(tx, 'trade.disputed', {
        tradeId: trade.id, disputeId, openedBy: who.userId, reason: reason ?? '', buyerId: trade.buyer_id, sellerId: trade.seller_id,
        asset: trade.asset, amount: normalize(trade.amount, ASSET_SCALES[trade.asset]), fiatCurrency: trade.fiat_currency, fiatAmount: normalize(trade.fiat_amount, FIAT_SCALE),
      });
    }
    return { trade: updated, disputeId };
  }, { retryable: true });
  if (result.trade.status === 'COMPLETED') deps.metrics.tradeCompleted(result.trade.asset, result.trade.amount);
  return result;
}

/** trade.payment-deadline: cancels a trade still AWAITING_PAYMENT once its deadline passed; anything else is a no-op. */
export async function expireTrade(tx: Tx, tradeId: string, deps: TradeDeps): Promise<'cancelled' | 'noop' | 'rescheduled'> {
  const trade = await lockTrade(tx, tradeId);
  if (!trade) return 'noop';
  const deadlinePassed = Date.now() >= trade.payment_deadline.getTime();
  if (trade.status === 'AWAITING_PAYMENT' && !deadlinePassed) {
    // The timer fired early (clock skew between machines): check again at the deadline.
    await enqueueEvent(tx, 'trade.payment-deadline', { tradeId }, { deliverAt: trade.payment_deadline });
    return 'rescheduled';
  }
  const decision = decide(trade.status, 'deadline', 'system', { deadlinePassed });
  if (!decision.ok) return 'noop';
  await settle(tx, deps, trade, decision.to, decision.escrow, { status: decision.to, cancelReason: 'PAYMENT_TIMEOUT' });
  return 'cancelled';
}

/** dispute.resolved: moves the escrow as decided, exactly once (a second resolution finds the trade RESOLVED). */
export async function resolveTrade(tx: Tx, e: EventPayload<'dispute.resolved'>, deps: TradeDeps): Promise<'resolved' | 'noop'> {
  const trade = await lockTrade(tx, e.tradeId);
  if (!trade) throw new Error(`dispute.resolved for unknown trade ${e.tradeId}`);
  const decision = decide(trade.status, 'resolve', 'system', { deadlinePassed: true });
  if (!decision.ok || trade.dispute_id !== e.disputeId) return 'noop';
  const scale = ASSET_SCALES[trade.asset];
  const units = numericUnits(trade.amount, scale);
  const buyerUnits = e.outcome === 'RELEASE_TO_BUYER' ? units : e.outcome === 'REFUND_SELLER' ? 0n : safeUnits(e.buyerAmount ?? '', scale);
  // A malformed decision will not get better by retrying: straight to the failed set, where operators see it.
  if (buyerUnits === undefined || buyerUnits < 0n || buyerUnits > units) throw new UnrecoverableError(`dispute ${e.disputeId}: SPLIT buyerAmount ${e.buyerAmount} is not within 0..${trade.amount}`);
  await settle(tx, deps, trade, decision.to, 'RESOLUTION', {
    status: decision.to, outcome: e.outcome, buyerAmount: fromUnits(buyerUnits, scale), escrowStatus: buyerUnits > 0n ? 'RELEASED' : 'REFUNDED',
  }, buyerUnits);
  await enqueueEvent(tx, 'trade.resolved', {
    tradeId: trade.id, disputeId: e.disputeId, outcome: e.outcome, buyerId: trade.buyer_id, sellerId: trade.seller_id,
    buyerAmount: fromUnits(buyerUnits, scale), sellerAmount: fromUnits(units - buyerUnits, scale),
  });
  return 'resolved';
}

/**
 * Applies a decided transition to a locked trade: moves the escrow (one journal per trade, so it can move
 * only once), updates the row, and records what others must hear about.
 */
async function settle(tx: Tx, deps: TradeDeps, trade: TradeRow, to: TradeState, effect: EscrowEffect, changes: TradeChanges, buyerUnits?: bigint): Promise<TradeRow> {
  const scale = ASSET_SCALES[trade.asset];
  const units = numericUnits(trade.amount, scale);
  const legs: Leg[] = [escrow(trade.seller_id, trade.id, trade.asset, -units)];
  let fee = 0n;
  if (effect === 'TO_BUYER') {
    fee = feeUnits(units, deps.feeBps);
    if (units - fee > 0n) legs.push(available(trade.buyer_id, trade.asset, units - fee));
    if (fee > 0n) legs.push(fees(trade.asset, fee));
  } else if (effect === 'TO_SELLER') {
    legs.push(available(trade.seller_id, trade.asset, units));
  } else if (effect === 'RESOLUTION') {
    const toBuyer = buyerUnits!;
    if (toBuyer > 0n) legs.push(available(trade.buyer_id, trade.asset, toBuyer));
    if (units - toBuyer > 0n) legs.push(available(trade.seller_id, trade.asset, units - toBuyer));
  }
  if (effect !== 'NONE') await postMovementOrFail(tx, { id: journalId('settle', trade.id), kind: `SETTLE_${to}`, ref: trade.id, legs });

  const updated = await updateTrade(tx, trade.id, {
    ...changes,
    escrowStatus: changes.escrowStatus ?? (effect === 'NONE' ? undefined : escrowStatusAfter(effect)),
    fee: effect === 'TO_BUYER' ? fromUnits(fee, scale) : undefined,
    closed: effect !== 'NONE',
  });
  const amount = fromUnits(units, scale);
  if (to === 'COMPLETED') {
    await recordCompletedTrade(tx, { asset: trade.asset, fiatCurrency: trade.fiat_currency, price: trade.price, amount, fiatAmount: trade.fiat_amount, userIds: [trade.buyer_id, trade.seller_id] });
    await enqueueEvent(tx, 'trade.completed', {
      tradeId: trade.id, buyerId: trade.buyer_id, sellerId: trade.seller_id, asset: trade.asset, amount, fiatCurrency: trade.fiat_currency,
      fiatAmount: normalize(trade.fiat_amount, FIAT_SCALE), completedAt: updated.updated_at.toISOString(),
    });
  }
  if (to === 'CANCELLED') {
    await enqueueEvent(tx, 'trade.cancelled', { tradeId: trade.id, buyerId: trade.buyer_id, sellerId: trade.seller_id, reason: changes.cancelReason === 'PAYMENT_TIMEOUT' ? 'PAYMENT_TIMEOUT' : 'BUYER_CANCELLED' });
  }
  return updated;
}

/** Who may read a trade: its parties, arbitrators and admins. */
export function canSee(trade: TradeRow, who: Identity): boolean {
  return who.userId === trade.buyer_id || who.userId === trade.seller_id || hasRole(who, 'arbitrator', 'admin');
}

/** Who may read and write its chat: the parties, the assigned arbitrator, admins. */
export function canChat(trade: TradeRow, who: Identity): boolean {
  return who.userId === trade.buyer_id || who.userId === trade.seller_id || who.userId === trade.arbitrator_id || hasRole(who, 'admin');
}
