import {
  ACTORS,
  decide,
  TRADE_ACTIONS,
  TRADE_STATES,
  type Actor,
  type TradeAction,
  type TradeState,
} from './trade-state-machine';

/**
 * The whole table, written out independently of the rules: for every state × action × actor × (deadline passed
 * or not), the expected target state, or 'INVALID_STATE' / 'NOT_ALLOWED'.
 */
type Expected = TradeState | 'INVALID_STATE' | 'NOT_ALLOWED';
const WHO: Record<TradeAction, readonly Actor[]> = {
  paid: ['buyer'],
  release: ['seller'],
  cancel: ['buyer'],
  deadline: ['system'],
  dispute: ['buyer', 'seller'],
  resolve: ['system'],
};

function expected(state: TradeState, action: TradeAction, actor: Actor, deadlinePassed: boolean): Expected {
  if (!WHO[action].includes(actor)) return 'NOT_ALLOWED';
  const table: Record<TradeAction, Partial<Record<TradeState, TradeState>>> = {
    paid: { AWAITING_PAYMENT: 'PAID' },
    release: { AWAITING_PAYMENT: 'COMPLETED', PAID: 'COMPLETED' },
    cancel: { AWAITING_PAYMENT: 'CANCELLED' },
    deadline: deadlinePassed ? { AWAITING_PAYMENT: 'CANCELLED' } : {},
    dispute: deadlinePassed ? { AWAITING_PAYMENT: 'DISPUTED', PAID: 'DISPUTED' } : { PAID: 'DISPUTED' },
    resolve: { DISPUTED: 'RESOLVED' },
  };
  return table[action][state] ?? 'INVALID_STATE';
}

const cases = TRADE_STATES.flatMap((state) =>
  TRADE_ACTIONS.flatMap((action) =>
    ACTORS.flatMap((actor) => [false, true].map((deadlinePassed) => ({ state, action, actor, deadlinePassed }))),
  ),
);

describe('trade state machine', () => {
  it('covers every state × action × actor × deadline combination', () => {
    expect(cases).toHaveLength(6 * 6 * 4 * 2);
  });

  it.each(cases)(
    'when $actor tries $action in $state (deadline passed: $deadlinePassed), then the table answers',
    ({ state, action, actor, deadlinePassed }) => {
      const decision = decide(state, action, actor, { deadlinePassed });
      const want = expected(state, action, actor, deadlinePassed);
      expect(decision.ok ? decision.to : decision.reason).toBe(want);
    },
  );

  it('when a trade is DISPUTED, then no release, cancel or timeout can touch it', () => {
    for (const [action, actor] of [
      ['release', 'seller'],
      ['cancel', 'buyer'],
      ['deadline', 'system'],
      ['paid', 'buyer'],
    ] as const) {
      expect(decide('DISPUTED', action, actor, { deadlinePassed: true })).toEqual({
        ok: false,
        reason: 'INVALID_STATE',
      });
    }
  });

  it('when a trade reaches a terminal state, then nothing leads out of it', () => {
    for (const state of ['COMPLETED', 'CANCELLED', 'RESOLVED'] as const) {
      for (const action of TRADE_ACTIONS)
        for (const actor of ACTORS) expect(decide(state, action, actor, { deadlinePassed: true }).ok).toBe(false);
    }
  });
});
