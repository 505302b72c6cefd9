/**
 * The trade state machine of API.md as pure data and one function: which actor may do what in which state,
 * and where it leads. No I/O here; the use cases lock the trade row, ask `decide`, then apply the outcome.
 */
export const TRADE_STATES = ['AWAITING_PAYMENT', 'PAID', 'COMPLETED', 'CANCELLED', 'DISPUTED', 'RESOLVED'] as const;
export type TradeState = (typeof TRADE_STATES)[number];

export const TRADE_ACTIONS = ['paid', 'release', 'cancel', 'deadline', 'dispute', 'resolve'] as const;
export type TradeAction = (typeof TRADE_ACTIONS)[number];

export const ACTORS = ['buyer', 'seller', 'system', 'stranger'] as const;
export type Actor = (typeof ACTORS)[number];

export const OPEN_STATES: readonly TradeState[] = ['AWAITING_PAYMENT', 'PAID', 'DISPUTED'];

/** API.md's escrow status: where the trade's crypto is. */
export type EscrowStatus = 'LOCKED' | 'RELEASED' | 'REFUNDED';

/** What happens to the escrow on a transition. */
export type EscrowEffect = 'NONE' | 'TO_BUYER' | 'TO_SELLER' | 'RESOLUTION';

export type Decision =
  | { ok: true; to: TradeState; escrow: EscrowEffect }
  /** The action does not apply; for the deadline timer this is a silent no-op, for a request a 409. */
  | { ok: false; reason: 'INVALID_STATE' }
  /** The actor is not allowed to do this at all (not their side of the trade). */
  | { ok: false; reason: 'NOT_ALLOWED' };

export interface DecisionContext {
  /** Whether the payment deadline has passed (dispute from AWAITING_PAYMENT, the deadline timer). */
  deadlinePassed: boolean;
}

interface Rule {
  actors: readonly Actor[];
  from: readonly TradeState[];
  to: TradeState;
  escrow: EscrowEffect;
  /** Extra condition on the context, per source state. */
  when?: (from: TradeState, ctx: DecisionContext) => boolean;
}

const RULES: Record<TradeAction, Rule> = {
  paid: { actors: ['buyer'], from: ['AWAITING_PAYMENT'], to: 'PAID', escrow: 'NONE' },
  release: { actors: ['seller'], from: ['AWAITING_PAYMENT', 'PAID'], to: 'COMPLETED', escrow: 'TO_BUYER' },
  cancel: { actors: ['buyer'], from: ['AWAITING_PAYMENT'], to: 'CANCELLED', escrow: 'TO_SELLER' },
  deadline: {
    actors: ['system'],
    from: ['AWAITING_PAYMENT'],
    to: 'CANCELLED',
    escrow: 'TO_SELLER',
    when: (_from, ctx) => ctx.deadlinePassed,
  },
  dispute: {
    actors: ['buyer', 'seller'],
    from: ['AWAITING_PAYMENT', 'PAID'],
    to: 'DISPUTED',
    escrow: 'NONE',
    when: (from, ctx) => from === 'PAID' || ctx.deadlinePassed,
  },
  resolve: { actors: ['system'], from: ['DISPUTED'], to: 'RESOLVED', escrow: 'RESOLUTION' },
};

export function decide(state: TradeState, action: TradeAction, actor: Actor, ctx: DecisionContext): Decision {
  const rule = RULES[action];
  if (!rule.actors.includes(actor)) return { ok: false, reason: 'NOT_ALLOWED' };
  if (!rule.from.includes(state)) return { ok: false, reason: 'INVALID_STATE' };
  if (rule.when && !rule.when(state, ctx)) return { ok: false, reason: 'INVALID_STATE' };
  return { ok: true, to: rule.to, escrow: rule.escrow };
}

/** API.md's escrow status of a trade in a state (a resolution says itself where the escrow went). */
export function escrowStatusAfter(effect: EscrowEffect): EscrowStatus {
  return effect === 'TO_BUYER' ? 'RELEASED' : effect === 'TO_SELLER' ? 'REFUNDED' : 'LOCKED';
}
