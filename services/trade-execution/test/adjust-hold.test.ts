import { randomUUID } from 'node:crypto';
import { adjustSellHoldCall, type HoldAdjustment, type SellHold } from '@orrange/queue';
import { balance, fund, placeSellHolds, releaseSellHold, sellHold, sqlStateOf, verify } from './factories';
import { createHarness, type Harness } from './harness';

/**
 * adjust_sell_hold (migration adjust_sell_hold): order-book calls it in the transaction that edits a SELL order's
 * amount, under the market lock, so that the hold keeps exactly the new remainder. These tests call it the way
 * order-book does (through adjustSellHoldCall).
 */
describe("adjust_sell_hold: an edited SELL order's hold follows its remainder", () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness();
  });

  afterAll(() => h.close());

  const adjust = async (hold: SellHold, delta: string, remaining: string, editId = randomUUID()) => {
    const call = adjustSellHoldCall({
      orderId: hold.orderId,
      userId: hold.userId,
      asset: hold.asset,
      delta,
      remaining,
      editId,
    } satisfies HoldAdjustment);
    const [row] = await h.runtime.db.query<{ outcome: string }>(call.sql, call.params);
    return row!.outcome;
  };

  it('when the remainder grows within the balance, then the hold grows; beyond it, INSUFFICIENT and nothing moves', async () => {
    await fund(h, 'ah-up', 'BTC', '1');
    const hold = sellHold('ah-up', 'BTC', '0.4');
    await placeSellHolds(h, [hold]);
    expect(await adjust(hold, '0.5', '0.9')).toBe('OK');
    expect(await balance(h, 'ah-up', 'BTC')).toMatchObject({ available: '0.10000000', held: '0.90000000' });
    expect(await adjust(hold, '0.2', '1.1')).toBe('INSUFFICIENT');
    expect(await balance(h, 'ah-up', 'BTC')).toMatchObject({ available: '0.10000000', held: '0.90000000' });
    // The grown hold is released whole when the order is cancelled (order_holds.amount counts what was added).
    expect(await releaseSellHold(h, { orderId: hold.orderId, userId: 'ah-up', asset: 'BTC', remaining: '0.9' })).toBe(
      'OK',
    );
    expect(await balance(h, 'ah-up', 'BTC')).toMatchObject({ available: '1.00000000', held: '0.00000000' });
    expect((await verify(h)).ok).toBe(true);
  });

  it('when the remainder shrinks, then the difference returns; an edit replayed with its id moves nothing', async () => {
    await fund(h, 'ah-down', 'USDT', '100');
    const hold = sellHold('ah-down', 'USDT', '100');
    await placeSellHolds(h, [hold]);
    const editId = randomUUID();
    expect(await adjust(hold, '-40', '60', editId)).toBe('OK');
    expect(await adjust(hold, '-40', '60', editId)).toBe('DUPLICATE');
    expect(await balance(h, 'ah-down', 'USDT')).toMatchObject({ available: '40.000000', held: '60.000000' });
    expect((await verify(h)).ok).toBe(true);
  });

  it('when the adjustment would leave the hold other than the remainder, or there is no placed hold, then the call fails and nothing moves', async () => {
    await fund(h, 'ah-bad', 'ETH', '2');
    const hold = sellHold('ah-bad', 'ETH', '1');
    await placeSellHolds(h, [hold]);
    expect(await sqlStateOf(adjust(hold, '0.5', '1.2'))).toBe('23514');
    expect(await balance(h, 'ah-bad', 'ETH')).toMatchObject({ available: '1.00000000', held: '1.00000000' });
    expect(await sqlStateOf(adjust(sellHold('ah-bad', 'ETH', '1'), '0.1', '1.1'))).toBe('P0002');
    expect(await releaseSellHold(h, { orderId: hold.orderId, userId: 'ah-bad', asset: 'ETH', remaining: '1' })).toBe(
      'OK',
    );
    expect(await sqlStateOf(adjust(hold, '0.1', '0.1'))).toBe('P0002');
  });
});
