import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import {
  openTradesExpression,
  releaseSellHoldCall,
  tradeOpeningsJson,
  type HoldRelease,
  type SellHold,
  type TradeOpening,
} from '@orrange/queue';
import { eventually } from '@orrange/testing';
import {
  balance,
  fund,
  openTrades,
  placeSellHolds,
  releaseSellHold,
  sellHold,
  sqlStateOf,
  tradeOpening,
  verify,
} from './factories';
import { createHarness, type Harness } from './harness';

/**
 * release_sell_hold (migration order_path_functions): order-book calls it in the transaction that cancels a SELL
 * order, under the market lock, with the order's unfilled remainder. The hold gives back exactly that and then
 * holds nothing; a hold holding anything else means the book and the ledger disagree, and the call (so the
 * cancel) fails. These tests call it the way order-book does (through releaseSellHoldCall).
 */
describe("release_sell_hold: a cancelled SELL order's hold gives back exactly its remainder", () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness();
  });

  afterAll(() => h.close());

  const release = (hold: SellHold, remaining: string): HoldRelease => ({
    orderId: hold.orderId,
    userId: hold.userId,
    asset: hold.asset,
    remaining,
  });
  /** The hold row and the release journals written about it. */
  const holdState = async (orderId: string) =>
    (
      await h.runtime.db.query<{ status: string; released: string; releases: number }>(
        `SELECT h.status, h.released::text, (SELECT count(*)::int FROM journals j WHERE j.kind = 'RELEASE_HOLD' AND j.ref = h.order_id) AS releases
       FROM order_holds h WHERE h.order_id = $1`,
        [orderId],
      )
    )[0];
  const placed = { status: 'PLACED', released: '0.00000000', releases: 0 };

  it('when a hold is released with its remainder, then exactly that returns and the hold holds nothing; released again (whatever the remainder), then DUPLICATE and nothing moves', async () => {
    await fund(h, 'hr-cancel', 'USDT', '100');
    const [hold, other] = [sellHold('hr-cancel', 'USDT', '50'), sellHold('hr-cancel', 'USDT', '10')];
    expect(await placeSellHolds(h, [hold!, other!])).toEqual(['OK', 'OK']);
    expect(await releaseSellHold(h, release(hold!, '50'))).toBe('OK');
    expect(await balance(h, 'hr-cancel', 'USDT')).toMatchObject({ available: '90.000000', held: '10.000000' });
    expect(await holdState(hold!.orderId)).toEqual({ status: 'RELEASED', released: '50.00000000', releases: 1 });

    for (const remaining of ['50', '20', '0'])
      expect(await releaseSellHold(h, release(hold!, remaining))).toBe('DUPLICATE');
    expect(await balance(h, 'hr-cancel', 'USDT')).toMatchObject({ available: '90.000000', held: '10.000000' });
    expect(await holdState(hold!.orderId)).toEqual({ status: 'RELEASED', released: '50.00000000', releases: 1 });
    // The seller's other hold is not touched by this one's release.
    expect(await holdState(other!.orderId)).toEqual(placed);
    expect((await verify(h)).ok).toBe(true);
  });

  it('when trades took part of a hold and the order is cancelled with the rest, then only the rest returns and the escrows stay', async () => {
    await fund(h, 'hr-maker', 'BTC', '1');
    const hold = sellHold('hr-maker', 'BTC', '1');
    await placeSellHolds(h, [hold]);
    const fromHold = (amount: string) =>
      tradeOpening({ sellerId: 'hr-maker', sellOrderId: hold.orderId, sellerFunding: 'HOLD', amount });
    expect(await openTrades(h, [fromHold('0.12345678'), fromHold('0.2')])).toEqual(['OK', 'OK']);
    expect(await releaseSellHold(h, release(hold, '0.67654322'))).toBe('OK');
    expect(await balance(h, 'hr-maker', 'BTC')).toMatchObject({
      available: '0.67654322',
      held: '0.00000000',
      inEscrow: '0.32345678',
    });
    expect(await holdState(hold.orderId)).toEqual({ status: 'RELEASED', released: '0.67654322', releases: 1 });
    // Released, the hold has nothing left for a late opening.
    expect(await openTrades(h, [fromHold('0.00000001')])).toEqual(['INSUFFICIENT']);
    expect((await verify(h)).ok).toBe(true);
  });

  it('when trades took the whole hold, then a release of zero answers OK, moves nothing and closes the hold', async () => {
    await fund(h, 'hr-filled', 'BTC', '1');
    const hold = sellHold('hr-filled', 'BTC', '0.4');
    await placeSellHolds(h, [hold]);
    expect(
      await openTrades(h, [
        tradeOpening({ sellerId: 'hr-filled', sellOrderId: hold.orderId, sellerFunding: 'HOLD', amount: '0.4' }),
      ]),
    ).toEqual(['OK']);
    expect(await releaseSellHold(h, release(hold, '0.00000000'))).toBe('OK');
    expect(await balance(h, 'hr-filled', 'BTC')).toMatchObject({
      available: '0.60000000',
      held: '0.00000000',
      inEscrow: '0.40000000',
    });
    expect(await holdState(hold.orderId)).toEqual({ status: 'RELEASED', released: '0.00000000', releases: 0 });
    expect(await releaseSellHold(h, release(hold, '0'))).toBe('DUPLICATE');
  });

  it('when a release is not exactly what the hold holds (more, less, or zero), then it raises 23514 and changes nothing; the remainder itself is then released', async () => {
    await fund(h, 'hr-wrong', 'BTC', '1');
    const hold = sellHold('hr-wrong', 'BTC', '0.5');
    await placeSellHolds(h, [hold]);
    expect(
      await openTrades(h, [
        tradeOpening({ sellerId: 'hr-wrong', sellOrderId: hold.orderId, sellerFunding: 'HOLD', amount: '0.1' }),
      ]),
    ).toEqual(['OK']);
    const before = { available: '0.50000000', held: '0.40000000', inEscrow: '0.10000000' };

    for (const remaining of ['0.5', '0.40000001', '0.39999999', '0']) {
      expect({ remaining, sqlState: await sqlStateOf(releaseSellHold(h, release(hold, remaining))) }).toEqual({
        remaining,
        sqlState: '23514',
      });
    }
    expect(await balance(h, 'hr-wrong', 'BTC')).toMatchObject(before);
    expect(await holdState(hold.orderId)).toEqual(placed);

    expect(await releaseSellHold(h, release(hold, '0.4'))).toBe('OK');
    expect(await balance(h, 'hr-wrong', 'BTC')).toMatchObject({
      available: '0.90000000',
      held: '0.00000000',
      inEscrow: '0.10000000',
    });
    expect((await verify(h)).ok).toBe(true);
  });

  it('when the release runs in the cancelling transaction, then it commits and rolls back with it: a failing release undoes a sound one before it', async () => {
    await fund(h, 'hr-tx', 'BTC', '1');
    const [sound, wrong] = [sellHold('hr-tx', 'BTC', '0.3'), sellHold('hr-tx', 'BTC', '0.2')];
    await placeSellHolds(h, [sound!, wrong!]);
    const failed = h.runtime.db.transaction(async (tx) => {
      expect(await releaseSellHold(h, release(sound!, '0.3'), tx)).toBe('OK');
      await releaseSellHold(h, release(wrong!, '0.1'), tx);
    });
    expect(await sqlStateOf(failed)).toBe('23514');
    expect(await balance(h, 'hr-tx', 'BTC')).toMatchObject({ available: '0.50000000', held: '0.50000000' });
    expect([await holdState(sound!.orderId), await holdState(wrong!.orderId)]).toEqual([placed, placed]);

    expect(
      await h.runtime.db.transaction(async (tx) => [
        await releaseSellHold(h, release(sound!, '0.3'), tx),
        await releaseSellHold(h, release(wrong!, '0.2'), tx),
      ]),
    ).toEqual(['OK', 'OK']);
    expect(await balance(h, 'hr-tx', 'BTC')).toMatchObject({ available: '1.00000000', held: '0.00000000' });
  });

  it('when there is no such hold (an order never held, as a BUY order, or the right order under another seller or asset), then P0002 and nothing moves', async () => {
    await fund(h, 'hr-none', 'BTC', '1');
    const hold = sellHold('hr-none', 'BTC', '0.5');
    await placeSellHolds(h, [hold]);
    const missing: HoldRelease[] = [
      { ...release(hold, '0.5'), orderId: randomUUID() },
      { ...release(hold, '0.5'), userId: 'hr-someone-else' },
      { ...release(hold, '0.5'), asset: 'ETH' },
    ];
    for (const r of missing)
      expect({ r, sqlState: await sqlStateOf(releaseSellHold(h, r)) }).toEqual({ r, sqlState: 'P0002' });
    expect(await balance(h, 'hr-none', 'BTC')).toMatchObject({ available: '0.50000000', held: '0.50000000' });
    expect(await holdState(hold.orderId)).toEqual(placed);
  });

  it('when a release is negative, finer than its asset allows or of an unknown asset, then the contract refuses it before it is sent, the function refuses it with 22023 when sent anyway, and the hold stays, to be released by a sound one', async () => {
    await fund(h, 'hr-bad', 'USDT', '100');
    const hold = sellHold('hr-bad', 'USDT', '50');
    await placeSellHolds(h, [hold]);
    const { sql } = releaseSellHoldCall(release(hold, '50'));
    const bad: Array<[string, string]> = [
      ['USDT', '-5'],
      ['USDT', '0.1234567'],
      ['USDT', '49.9999999'],
      ['DOGE', '50'],
    ];
    for (const [asset, remaining] of bad) {
      expect(() => releaseSellHoldCall({ ...release(hold, remaining), asset } as HoldRelease)).toThrow();
      const raw = h.runtime.db.query(sql, [hold.orderId, 'hr-bad', asset, remaining]);
      expect({ asset, remaining, sqlState: await sqlStateOf(raw) }).toEqual({ asset, remaining, sqlState: '22023' });
    }
    expect(await sqlStateOf(h.runtime.db.query(sql, [hold.orderId, null, 'USDT', '50']))).toBe('22023');
    expect(await balance(h, 'hr-bad', 'USDT')).toMatchObject({ available: '50.000000', held: '50.000000' });
    expect(await holdState(hold.orderId)).toEqual(placed);

    expect(await releaseSellHold(h, release(hold, '50'))).toBe('OK');
    expect(await balance(h, 'hr-bad', 'USDT')).toMatchObject({ available: '100.000000', held: '0.000000' });
    expect((await verify(h)).ok).toBe(true);
  });

  describe('with an opening from the same hold at once (two connections)', () => {
    /** Two connections of the pool, each inside a transaction of its own; destroyed afterwards (they may still be in one). */
    async function twoTransactions(body: (first: PoolClient, second: PoolClient) => Promise<void>): Promise<void> {
      const [first, second] = [await h.runtime.db.primary.connect(), await h.runtime.db.primary.connect()];
      try {
        await first.query('BEGIN');
        await second.query('BEGIN');
        await body(first, second);
      } finally {
        first.release(true);
        second.release(true);
      }
    }
    const pidOf = async (client: PoolClient): Promise<number> =>
      (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    const waitingForLock = (pid: number) =>
      eventually(
        async () =>
          (
            await h.runtime.db.query<{ wait: string | null }>(
              'SELECT wait_event_type AS wait FROM pg_stat_activity WHERE pid = $1',
              [pid],
            )
          )[0]?.wait === 'Lock',
      );
    const opening = async (client: PoolClient, o: TradeOpening) =>
      (await client.query(`SELECT ${openTradesExpression('$1')} AS outcomes`, [tradeOpeningsJson([o])])).rows[0]
        .outcomes;
    const releasing = (client: PoolClient, r: HoldRelease) => {
      const call = releaseSellHoldCall(r);
      return client.query<{ outcome: string }>(call.sql, call.params).then((result) => result.rows[0]!.outcome);
    };

    it('when an opening took from the hold first, then the release waits for it and, seeing less held than its remainder, raises 23514; the new remainder is then released', async () => {
      await fund(h, 'hr-race-a', 'BTC', '1');
      const hold = sellHold('hr-race-a', 'BTC', '1');
      await placeSellHolds(h, [hold]);
      const o = tradeOpening({
        sellerId: 'hr-race-a',
        sellOrderId: hold.orderId,
        sellerFunding: 'HOLD',
        amount: '0.3',
      });
      await twoTransactions(async (opener, canceller) => {
        expect(await opening(opener, o)).toEqual(['OK']);
        const pid = await pidOf(canceller);
        const cancel = releasing(canceller, release(hold, '1'));
        cancel.catch(() => undefined);
        await waitingForLock(pid);
        await opener.query('COMMIT');
        expect(await sqlStateOf(cancel)).toBe('23514');
        await canceller.query('ROLLBACK');
      });
      expect(await balance(h, 'hr-race-a', 'BTC')).toMatchObject({
        available: '0.00000000',
        held: '0.70000000',
        inEscrow: '0.30000000',
      });
      expect(await holdState(hold.orderId)).toEqual(placed);
      expect(await releaseSellHold(h, release(hold, '0.7'))).toBe('OK');
      expect(await balance(h, 'hr-race-a', 'BTC')).toMatchObject({
        available: '0.70000000',
        held: '0.00000000',
        inEscrow: '0.30000000',
      });
    });

    it('when the release came first, then the opening waits for it and, finding the hold empty, is INSUFFICIENT and writes no trade', async () => {
      await fund(h, 'hr-race-b', 'BTC', '1');
      const hold = sellHold('hr-race-b', 'BTC', '1');
      await placeSellHolds(h, [hold]);
      const o = tradeOpening({
        sellerId: 'hr-race-b',
        sellOrderId: hold.orderId,
        sellerFunding: 'HOLD',
        amount: '0.3',
      });
      await twoTransactions(async (canceller, opener) => {
        expect(await releasing(canceller, release(hold, '1'))).toBe('OK');
        const pid = await pidOf(opener);
        const open = opening(opener, o);
        await waitingForLock(pid);
        await canceller.query('COMMIT');
        expect(await open).toEqual(['INSUFFICIENT']);
        await opener.query('COMMIT');
      });
      expect(await balance(h, 'hr-race-b', 'BTC')).toMatchObject({
        available: '1.00000000',
        held: '0.00000000',
        inEscrow: '0.00000000',
      });
      expect(await holdState(hold.orderId)).toEqual({ status: 'RELEASED', released: '1.00000000', releases: 1 });
      expect(await h.runtime.db.query('SELECT 1 FROM trades WHERE id = $1', [o.tradeId])).toEqual([]);
      expect((await verify(h)).ok).toBe(true);
    });
  });
});
