import fc from 'fast-check';
import { comparePriority, crosses, FILLS_PER_ORDER_MAX, matchOrder, respectsMinFill, sharedPaymentMethod, type MatchableOrder } from './matching-engine';

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
  if (maker.side === taker.side || maker.userId === taker.userId || maker.remaining === 0n || taker.remaining === 0n) return false;
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
          const taker: Tracked = { ...input, minFill, id: `o${index}`, seq: BigInt(index), remaining: input.amount, filled: 0n };
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
});
