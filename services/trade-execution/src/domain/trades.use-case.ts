import { randomUUID } from 'node:crypto';
import type { Database, Tx } from '@orrange/db';
import type { EncryptionKeyring } from '@orrange/secrets';
import { conflict, forbidden, hasRole, notFound, type Identity } from '@orrange/http';
import { ASSET_SCALES, FIAT_SCALE, fromUnits, toUnits } from '@orrange/money';
import { enqueueEvent, PermanentFailure, type EventPayload } from '@orrange/queue';
import { postMovementOrFail } from '../data/ledger.repository';
import { recordCompletedTrade } from '../data/stats.repository';
import { lockTrade, updateTrade, type TradeChanges } from '../data/trade.repository';
import { available, escrow, feeUnits, fees, journalId, type Leg } from './ledger';
import type { BusinessMetrics, Trade, TradeUpdates } from './trade';
import {
  decide,
  escrowStatusAfter,
  type Actor,
  type EscrowEffect,
  type TradeAction,
  type TradeState,
} from './trade-state-machine';

export interface TradeDeps {
  db: Database;
  feeBps: number;
  metrics: BusinessMetrics;
  /** Seals what is stored at rest that may hold bank details: chat messages, stored answers that carry them. */
  keyring: EncryptionKeyring;
  /** Announced after each commit (absent in tests that build their own deps). */
  live?: TradeUpdates;
}

export type PartyAction = Extract<TradeAction, 'paid' | 'release' | 'cancel' | 'dispute'>;

/**
 * A party acts on a trade. The trade row is locked first, so racing release / cancel / dispute / deadline on
 * one trade run one after the other and each sees the previous result: exactly one of them wins.
 */
export async function actOnTrade(
  deps: TradeDeps,
  tradeId: string,
  who: Identity,
  action: PartyAction,
  reason?: string,
): Promise<{ trade: Trade; disputeId?: string }> {
  const result = await deps.db.transaction(
    async (tx) => {
      const trade = await lockTrade(tx, tradeId);
      if (!trade) throw notFound('TRADE.NOT_FOUND', 'No such trade.');
      const actor: Actor =
        who.userId === trade.buyerId ? 'buyer' : who.userId === trade.sellerId ? 'seller' : 'stranger';
      if (actor === 'stranger')
        throw canSee(trade, who)
          ? forbidden('Only the parties of a trade may do this.', 'TRADE.NOT_A_PARTY')
          : notFound('TRADE.NOT_FOUND', 'No such trade.');
      const decision = decide(trade.status, action, actor, {
        deadlinePassed: Date.now() >= trade.paymentDeadline.getTime(),
      });
      if (!decision.ok && decision.reason === 'NOT_ALLOWED')
        throw forbidden(`The ${actor} may not ${action} a trade.`, 'TRADE.FORBIDDEN_ACTION');
      if (!decision.ok)
        throw conflict(
          'TRADE.INVALID_STATE',
          `A trade in ${trade.status} does not allow "${action}" by the ${actor} now.`,
        );
      const disputeId = action === 'dispute' ? randomUUID() : undefined;
      const changes: TradeChanges =
        action === 'paid'
          ? { status: decision.to, paidAt: true }
          : action === 'dispute'
            ? { status: decision.to, disputeId, disputedBy: who.userId }
            : action === 'cancel'
              ? { status: decision.to, cancelReason: 'BUYER_CANCELLED' }
              : { status: decision.to };
      const updated = await settle(tx, deps, trade, decision.to, decision.escrow, changes);
      if (disputeId) {
        await enqueueEvent(tx, 'trade.disputed', {
          tradeId: trade.id,
          disputeId,
          openedBy: who.userId,
          reason: reason ?? '',
          buyerId: trade.buyerId,
          sellerId: trade.sellerId,
          asset: trade.asset,
          amount: fromUnits(trade.amount, ASSET_SCALES[trade.asset]),
          fiatCurrency: trade.fiatCurrency,
          fiatAmount: fromUnits(trade.fiatAmount, FIAT_SCALE),
        });
      }
      return { trade: updated, disputeId };
    },
    { retryable: true },
  );
  if (result.trade.status === 'COMPLETED')
    deps.metrics.tradeCompleted(result.trade.asset, fromUnits(result.trade.amount, ASSET_SCALES[result.trade.asset]));
  void deps.live?.tradeChanged(result.trade);
  return result;
}

/**
 * A trade's payment deadline, fired by the deadline sweeper (see messaging/deadline-sweeper.ts): cancels a trade
 * still AWAITING_PAYMENT once its deadline has passed, escrow back to the seller. Anything else (paid, disputed,
 * cancelled by the buyer, expired by another replica's sweep) is a no-op, so however many paths fire it, it acts once.
 */
export async function expireTrade(tx: Tx, tradeId: string, deps: TradeDeps): Promise<'cancelled' | 'noop'> {
  const trade = await lockTrade(tx, tradeId);
  if (!trade) return 'noop';
  const decision = decide(trade.status, 'deadline', 'system', {
    deadlinePassed: Date.now() >= trade.paymentDeadline.getTime(),
  });
  if (!decision.ok) return 'noop';
  await settle(tx, deps, trade, decision.to, decision.escrow, { status: decision.to, cancelReason: 'PAYMENT_TIMEOUT' });
  return 'cancelled';
}

/** dispute.resolved: moves the escrow as decided, exactly once (a second resolution finds the trade RESOLVED). */
export async function resolveTrade(
  tx: Tx,
  resolution: EventPayload<'dispute.resolved'>,
  deps: TradeDeps,
): Promise<'resolved' | 'noop'> {
  const trade = await lockTrade(tx, resolution.tradeId);
  if (!trade) throw new Error(`dispute.resolved for unknown trade ${resolution.tradeId}`);
  const decision = decide(trade.status, 'resolve', 'system', { deadlinePassed: true });
  if (!decision.ok || trade.disputeId !== resolution.disputeId) return 'noop';
  const scale = ASSET_SCALES[trade.asset];
  const units = trade.amount;
  const buyerUnits =
    resolution.outcome === 'RELEASE_TO_BUYER'
      ? units
      : resolution.outcome === 'REFUND_SELLER'
        ? 0n
        : safeUnits(resolution.buyerAmount ?? '', scale);
  // A malformed decision will not get better by retrying: straight to the failed set, where operators see it.
  if (buyerUnits === undefined || buyerUnits < 0n || buyerUnits > units)
    throw new PermanentFailure(
      `dispute ${resolution.disputeId}: SPLIT buyerAmount ${resolution.buyerAmount} is not within 0..${fromUnits(units, scale)}`,
    );
  await settle(
    tx,
    deps,
    trade,
    decision.to,
    'RESOLUTION',
    {
      status: decision.to,
      outcome: resolution.outcome,
      buyerAmount: buyerUnits,
      escrowStatus: buyerUnits > 0n ? 'RELEASED' : 'REFUNDED',
    },
    buyerUnits,
  );
  await enqueueEvent(tx, 'trade.resolved', {
    tradeId: trade.id,
    disputeId: resolution.disputeId,
    outcome: resolution.outcome,
    buyerId: trade.buyerId,
    sellerId: trade.sellerId,
    buyerAmount: fromUnits(buyerUnits, scale),
    sellerAmount: fromUnits(units - buyerUnits, scale),
  });
  return 'resolved';
}

/**
 * Applies a decided transition to a locked trade: moves the escrow (one journal per trade, so it can move
 * only once), updates the row, and records what others must hear about.
 */
async function settle(
  tx: Tx,
  deps: TradeDeps,
  trade: Trade,
  to: TradeState,
  effect: EscrowEffect,
  changes: TradeChanges,
  buyerUnits?: bigint,
): Promise<Trade> {
  const units = trade.amount;
  const legs: Leg[] = [escrow(trade.sellerId, trade.id, trade.asset, -units)];
  let fee = 0n;
  if (effect === 'TO_BUYER') {
    fee = feeUnits(units, deps.feeBps);
    if (units - fee > 0n) legs.push(available(trade.buyerId, trade.asset, units - fee));
    if (fee > 0n) legs.push(fees(trade.asset, fee));
  } else if (effect === 'TO_SELLER') {
    legs.push(available(trade.sellerId, trade.asset, units));
  } else if (effect === 'RESOLUTION') {
    const toBuyer = buyerUnits!;
    if (toBuyer > 0n) legs.push(available(trade.buyerId, trade.asset, toBuyer));
    if (units - toBuyer > 0n) legs.push(available(trade.sellerId, trade.asset, units - toBuyer));
  }
  if (effect !== 'NONE')
    await postMovementOrFail(tx, { id: journalId('settle', trade.id), kind: `SETTLE_${to}`, ref: trade.id, legs });

  const updated = await updateTrade(tx, trade, {
    ...changes,
    escrowStatus: changes.escrowStatus ?? (effect === 'NONE' ? undefined : escrowStatusAfter(effect)),
    fee: effect === 'TO_BUYER' ? fee : undefined,
    closed: effect !== 'NONE',
  });
  if (to === 'COMPLETED') {
    await recordCompletedTrade(tx, trade);
    await enqueueEvent(tx, 'trade.completed', {
      tradeId: trade.id,
      buyerId: trade.buyerId,
      sellerId: trade.sellerId,
      asset: trade.asset,
      amount: fromUnits(units, ASSET_SCALES[trade.asset]),
      fiatCurrency: trade.fiatCurrency,
      fiatAmount: fromUnits(trade.fiatAmount, FIAT_SCALE),
      completedAt: updated.updatedAt.toISOString(),
      openedAt: trade.createdAt.toISOString(),
      paidAt: trade.paidAt?.toISOString() ?? null,
    });
  }
  if (to === 'CANCELLED') {
    await enqueueEvent(tx, 'trade.cancelled', {
      tradeId: trade.id,
      buyerId: trade.buyerId,
      sellerId: trade.sellerId,
      reason: changes.cancelReason === 'PAYMENT_TIMEOUT' ? 'PAYMENT_TIMEOUT' : 'BUYER_CANCELLED',
    });
  }
  return updated;
}

/** Who may read a trade: its parties, arbitrators and admins. */
export function canSee(trade: Trade, who: Identity): boolean {
  return who.userId === trade.buyerId || who.userId === trade.sellerId || hasRole(who, 'arbitrator', 'admin');
}

/** Who may read and write its chat: the parties, the assigned arbitrator, admins. */
export function canChat(trade: Trade, who: Identity): boolean {
  return (
    who.userId === trade.buyerId ||
    who.userId === trade.sellerId ||
    who.userId === trade.arbitratorId ||
    hasRole(who, 'admin')
  );
}

/** Parses a decimal from an event at `scale`; undefined when it is signed or has too many decimals. */
function safeUnits(decimal: string, scale: number): bigint | undefined {
  try {
    return toUnits(decimal, scale);
  } catch {
    return undefined;
  }
}
