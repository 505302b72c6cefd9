import fc from 'fast-check';
import {
  comparePriority,
  crosses,
  FILLS_PER_ORDER_MAX,
  matchOrder,
  respectsMinFill,
  sharedPaymentMethod,
  type MatchableOrder,
} from './matching-engine';

/**
 * Random order streams through an in-memory book that uses the engine the way the service does. After
 * every order: no overfill, no fill through a limit, amounts conserved, minFill respected, no self-match,
 * each fill the best eligible resting order at that moment, and no eligible pair left behind.
 */
const METHODS = ['SEPA', 'WIRE', 'CASH'];
const orderArb = fc.record({
  side: fc.constantFrom<'BUY' | 'SELL'>('BUY', 'SELL'),
  userId: fc.constantFrom('a', 'b', 'c', 'd'),
  price: fc.bigInt({ min: 95n, max: 105n }),
  amount: fc.bigInt({ min: 1n, max: 50n }),
  minFill: fc.bigInt({ min: 1n, max: 30n }),
  paymentMethods: fc.subarray(METHODS, { minLength: 1 }),
});

interface Tracked extends MatchableOrder {
  amount: bigint;
  filled: bigint;
}

function eligible(taker: MatchableOrder, maker: MatchableOrder): boolean {
  if (maker.side === taker.side || maker.userId === taker.userId || maker.remaining === 0n || taker.remaining === 0n)
    return false;
  if (!crosses(taker, maker) || sharedPaymentMethod(maker, taker) === undefined) return false;
  const q = taker.remaining < maker.remaining ? taker.remaining : maker.remaining;
  return respectsMinFill(taker, q) && respectsMinFill(maker, q);
}

describe('matching engine properties', () => {
  it('when random order streams are matched, then every invariant holds', () => {
    fc.assert(
      fc.property(fc.array(orderArb, { minLength: 1, maxLength: 60 }), (stream) => {
        const book: Tracked[] = [];
        stream.forEach((input, index) => {
          const minFill = input.minFill > input.amount ? input.amount : input.minFill;
          const taker: Tracked = {
            ...input,
            minFill,
            id: `o${index}`,
            seq: BigInt(index),
            remaining: input.amount,
            filled: 0n,
          };
          const resting = book.filter((o) => o.remaining > 0n);
          const before = new Map(resting.map((o) => [o.id, o.remaining]));
          const result = matchOrder(taker, resting);
          let takerRemaining = taker.remaining;
          for (const fill of result.fills) {
            const maker = book.find((o) => o.id === fill.restingOrderId)!;
            // The chosen maker is the best-priority eligible order at this moment.
            const now = { ...taker, remaining: takerRemaining };
            const best = resting.filter((o) => eligible(now, o)).sort((x, y) => comparePriority(x.side, x, y))[0];
            expect(best?.id).toBe(maker.id);
            expect(maker.userId).not.toBe(taker.userId);
            expect(fill.price).toBe(maker.price);
            expect(taker.side === 'BUY' ? fill.price <= taker.price : fill.price >= taker.price).toBe(true);
            expect(fill.amount > 0n && fill.amount <= maker.remaining && fill.amount <= takerRemaining).toBe(true);
            expect(respectsMinFill(maker, fill.amount)).toBe(true);
            expect(respectsMinFill({ remaining: takerRemaining, minFill: taker.minFill }, fill.amount)).toBe(true);
            expect(taker.paymentMethods).toContain(fill.paymentMethod);
            expect(maker.paymentMethods).toContain(fill.paymentMethod);
            maker.remaining -= fill.amount;
            maker.filled += fill.amount;
            takerRemaining -= fill.amount;
          }
          taker.remaining = result.remaining;
          taker.filled = taker.amount - result.remaining;
          expect(takerRemaining).toBe(result.remaining);
          // Conservation: what the taker got equals what the makers gave.
          const makersGave = resting.reduce((sum, o) => sum + (before.get(o.id)! - o.remaining), 0n);
          expect(makersGave).toBe(taker.filled);
          // No eligible pair is left behind unless the fill bound stopped the pass.
          if (result.fills.length < FILLS_PER_ORDER_MAX) expect(resting.some((o) => eligible(taker, o))).toBe(false);
          book.push(taker);
          for (const o of book) {
            expect(o.remaining >= 0n && o.remaining <= o.amount).toBe(true);
            expect(o.remaining + o.filled).toBe(o.amount);
          }
        });
      }),
      { numRuns: 300 },
    );
  });

  it('when orders carry fiat limits and buyers have room for few trades, then no fill breaks a limit or a room', () => {
    const unitsPerCoin = 100n;
    const limitedArb = fc.record({
      side: fc.constantFrom<'BUY' | 'SELL'>('BUY', 'SELL'),
      userId: fc.constantFrom('a', 'b', 'c', 'd'),
      price: fc.bigInt({ min: 95n, max: 105n }),
      amount: fc.bigInt({ min: 1n, max: 50n }),
      minFiat: fc.option(fc.bigInt({ min: 1n, max: 3000n }), { nil: null }),
      maxFiat: fc.option(fc.bigInt({ min: 100n, max: 5000n }), { nil: null }),
    });
    fc.assert(
      fc.property(
        fc.array(limitedArb, { minLength: 1, maxLength: 40 }),
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 4, maxLength: 4 }),
        (stream, roomList) => {
          let rooms = new Map(['a', 'b', 'c', 'd'].map((u, i) => [u, roomList[i]!]));
          const book: MatchableOrder[] = [];
          stream.forEach((input, index) => {
            const maxFiat =
              input.minFiat !== null && input.maxFiat !== null && input.maxFiat < input.minFiat
                ? input.minFiat
                : input.maxFiat;
            const taker: MatchableOrder = {
              ...input,
              maxFiat,
              id: `o${index}`,
              seq: BigInt(index),
              remaining: input.amount,
              minFill: 1n,
              paymentMethods: ['SEPA'],
              unitsPerCoin,
            };
            const resting = book.filter((o) => o.remaining > 0n);
            const result = matchOrder(taker, resting, FILLS_PER_ORDER_MAX, rooms);
            let takerRemaining = taker.remaining;
            const makersFilled = new Set<string>();
            for (const fill of result.fills) {
              const maker = book.find((o) => o.id === fill.restingOrderId)!;
              const worth = fill.price * fill.amount;
              for (const [order, remainingBefore] of [
                [taker, takerRemaining],
                [maker, maker.remaining],
              ] as const) {
                if (order.maxFiat !== null && order.maxFiat !== undefined)
                  expect(worth <= order.maxFiat * unitsPerCoin).toBe(true);
                if (order.minFiat !== null && order.minFiat !== undefined && fill.amount !== remainingBefore)
                  expect(worth >= order.minFiat * unitsPerCoin).toBe(true);
              }
              expect(makersFilled.has(maker.id)).toBe(false);
              makersFilled.add(maker.id);
              const buyer = taker.side === 'BUY' ? taker.userId : maker.userId;
              expect(rooms.get(buyer)!).toBeGreaterThan(0);
              rooms = new Map(rooms).set(buyer, rooms.get(buyer)! - 1);
              maker.remaining -= fill.amount;
              takerRemaining -= fill.amount;
            }
            expect([...rooms]).toEqual([...result.rooms]);
            expect(takerRemaining).toBe(result.remaining);
            taker.remaining = result.remaining;
            book.push(taker);
            for (const o of book)
              expect(o.remaining >= 0n && o.remaining <= stream[Number(o.id.slice(1))]!.amount).toBe(true);
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});
