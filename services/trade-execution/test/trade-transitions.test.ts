import request from 'supertest';
import { decide, TRADE_STATES, type TradeState } from '../src/domain/trade-state-machine';
import { ADMIN, balance, expireDeadline, openTrade, verify } from './factories';
import { createHarness, type Harness } from './harness';
import type { TradeOpening } from '@orrange/queue';

const HTTP_ACTIONS = ['paid', 'release', 'cancel', 'dispute'] as const;
const HTTP_ACTORS = ['buyer', 'seller', 'stranger', 'admin'] as const;

describe('trade state machine over HTTP (every state × action × actor)', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness();
  });

  afterAll(() => h.close());

  const post = (
    m: TradeOpening,
    userId: string,
    action: string,
    roles: Array<'user' | 'admin' | 'arbitrator'> = ['user'],
  ) =>
    request(h.app)
      .post(`/api/v1/trades/${m.tradeId}/${action}`)
      .set(h.as(userId, roles))
      .send(action === 'dispute' ? { reason: 'no payment arrived' } : {});

  async function tradeIn(state: TradeState, deadlinePassed: boolean): Promise<TradeOpening> {
    const m = await openTrade(h);
    const step = async (userId: string, action: string, status = 200) =>
      expect((await post(m, userId, action)).status).toBe(status);
    if (state === 'PAID' || state === 'DISPUTED' || state === 'RESOLVED') await step(m.buyerId, 'paid');
    if (state === 'COMPLETED') await step(m.sellerId, 'release');
    if (state === 'CANCELLED') await step(m.buyerId, 'cancel');
    if (state === 'DISPUTED' || state === 'RESOLVED') await step(m.buyerId, 'dispute', 201);
    if (state === 'RESOLVED') {
      const [t] = await h.runtime.db.query<{ dispute_id: string }>('SELECT dispute_id FROM trades WHERE id = $1', [
        m.tradeId,
      ]);
      await h.deliver('dispute.resolved', {
        disputeId: t!.dispute_id,
        tradeId: m.tradeId,
        outcome: 'REFUND_SELLER',
        buyerAmount: null,
        resolvedBy: ADMIN,
      });
    }
    if (deadlinePassed) await expireDeadline(h, m.tradeId);
    return m;
  }

  const cases = TRADE_STATES.flatMap((state) =>
    HTTP_ACTIONS.flatMap((action) =>
      HTTP_ACTORS.flatMap((actor) =>
        (state === 'AWAITING_PAYMENT' ? [false, true] : [false]).map((deadlinePassed) => ({
          state,
          action,
          actor,
          deadlinePassed,
        })),
      ),
    ),
  );

  it.each(cases)(
    'when the $actor calls $action in $state (deadline passed: $deadlinePassed), then the answer follows the table and only a win changes anything',
    async ({ state, action, actor, deadlinePassed }) => {
      const m = await tradeIn(state, deadlinePassed);
      const before = await h.runtime.db.query('SELECT status, escrow_status FROM trades WHERE id = $1', [m.tradeId]);
      const balancesBefore = [await balance(h, m.buyerId, 'BTC'), await balance(h, m.sellerId, 'BTC')];
      const userId =
        actor === 'buyer' ? m.buyerId : actor === 'seller' ? m.sellerId : actor === 'admin' ? ADMIN : 'someone-else';
      const res = await post(m, userId, action, actor === 'admin' ? ['admin'] : ['user']);

      if (actor === 'stranger') expect(res.status).toBe(404);
      else if (actor === 'admin') expect(res.status).toBe(403);
      else {
        const decision = decide(state, action, actor, { deadlinePassed });
        const expected = decision.ok
          ? action === 'dispute'
            ? 201
            : 200
          : decision.reason === 'NOT_ALLOWED'
            ? 403
            : 409;
        expect(res.status).toBe(expected);
        if (expected === 409) expect(res.body.code).toBe('TRADE.INVALID_STATE');
        if (decision.ok) {
          const [after] = await h.runtime.db.query<{ status: string }>('SELECT status FROM trades WHERE id = $1', [
            m.tradeId,
          ]);
          expect(after!.status).toBe(decision.to);
          return;
        }
      }
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(await h.runtime.db.query('SELECT status, escrow_status FROM trades WHERE id = $1', [m.tradeId])).toEqual(
        before,
      );
      expect([await balance(h, m.buyerId, 'BTC'), await balance(h, m.sellerId, 'BTC')]).toEqual(balancesBefore);
    },
  );

  it('after all of that, the ledger still sums to zero per asset with no negative account', async () => {
    const report = await verify(h);
    expect(report.ok).toBe(true);
  });
});
