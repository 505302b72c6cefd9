import { FILLS_PER_ORDER_MAX, matchOrder, type MatchableOrder } from './matching-engine';

let seq = 0n;
function order(overrides: Partial<MatchableOrder>): MatchableOrder {
  seq += 1n;
  return {
    id: `o${seq}`,
    userId: `u${seq}`,
    side: 'SELL',
    price: 100_00n,
    remaining: 10n,
    minFill: 1n,
    paymentMethods: ['SEPA'],
    seq,
    ...overrides,
  };
}
const buy = (overrides: Partial<MatchableOrder> = {}) => order({ side: 'BUY', ...overrides });
const sell = (overrides: Partial<MatchableOrder> = {}) => order({ side: 'SELL', ...overrides });

describe('matching engine', () => {
  it('when a BUY crosses several asks, then it fills the cheapest first at their prices and stops at its limit', () => {
    const a = sell({ price: 101_00n, remaining: 5n });
    const b = sell({ price: 99_00n, remaining: 5n });
    const c = sell({ price: 103_00n, remaining: 5n });
    const result = matchOrder(buy({ price: 102_00n, remaining: 12n }), [a, b, c]);
    expect(result.fills.map((f) => [f.restingOrderId, f.price, f.amount])).toEqual([
      [b.id, 99_00n, 5n],
      [a.id, 101_00n, 5n],
    ]);
    expect(result.remaining).toBe(2n);
  });

  it('when two asks have the same price, then the older one fills first', () => {
    const older = sell({ remaining: 3n });
    const newer = sell({ remaining: 3n });
    const result = matchOrder(buy({ remaining: 3n }), [newer, older]);
    expect(result.fills.map((f) => f.restingOrderId)).toEqual([older.id]);
  });

  it('when a SELL comes in, then it fills the highest bid first at the bid price', () => {
    const low = buy({ price: 100_00n });
    const high = buy({ price: 105_00n });
    const result = matchOrder(sell({ price: 100_00n, remaining: 10n }), [low, high]);
    expect(result.fills).toEqual([expect.objectContaining({ restingOrderId: high.id, price: 105_00n, amount: 10n })]);
  });

  it('when the resting order belongs to the same user, then it is skipped', () => {
    const mine = sell({ userId: 'me' });
    const theirs = sell({ price: 100_50n });
    const result = matchOrder(buy({ userId: 'me', price: 101_00n }), [mine, theirs]);
    expect(result.fills.map((f) => f.restingOrderId)).toEqual([theirs.id]);
  });

  it("when payment methods do not intersect, then no fill; when they do, the resting order's first shared method is used", () => {
    const wire = sell({ paymentMethods: ['WIRE'] });
    const both = sell({ paymentMethods: ['ZELLE', 'WIRE', 'SEPA'] });
    const result = matchOrder(buy({ paymentMethods: ['SEPA', 'WIRE'] }), [wire, both]);
    expect(result.fills.map((f) => [f.restingOrderId, f.paymentMethod])).toEqual([[wire.id, 'WIRE']]);
    expect(matchOrder(buy({ paymentMethods: ['CASH'] }), [wire]).fills).toEqual([]);
  });

  it('when a fill would be below the resting minFill and not its whole remainder, then that order is skipped', () => {
    const big = sell({ remaining: 100n, minFill: 50n });
    const small = sell({ price: 100_50n, remaining: 100n, minFill: 1n });
    const result = matchOrder(buy({ price: 101_00n, remaining: 10n }), [big, small]);
    expect(result.fills.map((f) => [f.restingOrderId, f.amount])).toEqual([[small.id, 10n]]);
  });

  it("when the fill takes the resting order's whole remainder, then its minFill does not stop it", () => {
    const rest = sell({ remaining: 4n, minFill: 50n });
    expect(matchOrder(buy({ remaining: 10n }), [rest]).fills.map((f) => f.amount)).toEqual([4n]);
  });

  it('when the incoming minFill refuses a small ask, then a later smaller remainder may still take it', () => {
    const tiny = sell({ remaining: 2n });
    const larger = sell({ price: 100_50n, remaining: 8n });
    const result = matchOrder(buy({ price: 101_00n, remaining: 10n, minFill: 5n }), [tiny, larger]);
    expect(result.fills.map((f) => [f.restingOrderId, f.amount])).toEqual([
      [larger.id, 8n],
      [tiny.id, 2n],
    ]);
    expect(result.remaining).toBe(0n);
  });

  it('when more resting orders cross than the fill bound, then it stops at FILLS_PER_ORDER_MAX', () => {
    const asks = Array.from({ length: FILLS_PER_ORDER_MAX + 5 }, () => sell({ remaining: 1n }));
    const result = matchOrder(buy({ remaining: 1_000n }), asks);
    expect(result.fills).toHaveLength(FILLS_PER_ORDER_MAX);
    expect(result.remaining).toBe(1_000n - BigInt(FILLS_PER_ORDER_MAX));
  });

  it('when nothing crosses, then there are no fills and the arguments are untouched', () => {
    const ask = sell({ price: 200_00n });
    const result = matchOrder(buy({ price: 100_00n }), [ask]);
    expect(result).toEqual({ fills: [], remaining: 10n, rooms: new Map() });
    expect(ask.remaining).toBe(10n);
  });

  describe('fiat limits per trade (prices in cents, 100 units per coin)', () => {
    const coin = 100n;
    it('when an ask has a maxFiat, then the fill is cut to its worth and the ask is filled once per pass', () => {
      // 10 units at 100.00 per coin is 10.00; a maxFiat of 3.00 allows 3 units per trade.
      const ask = sell({ remaining: 10n, maxFiat: 3_00n, unitsPerCoin: coin });
      const result = matchOrder(buy({ remaining: 10n, unitsPerCoin: coin }), [ask]);
      expect(result.fills.map((f) => f.amount)).toEqual([3n]);
      expect(result.remaining).toBe(7n);
    });

    it("when a fill would be worth less than an order's minFiat, then it is skipped unless it takes the whole remainder", () => {
      const small = sell({ remaining: 2n, unitsPerCoin: coin });
      const result = matchOrder(buy({ remaining: 10n, minFiat: 5_00n, unitsPerCoin: coin }), [small]);
      expect(result.fills).toEqual([]);
      const whole = matchOrder(buy({ remaining: 2n, minFiat: 5_00n, unitsPerCoin: coin }), [
        sell({ remaining: 2n, unitsPerCoin: coin }),
      ]);
      expect(whole.fills.map((f) => f.amount)).toEqual([2n]);
    });

    it("when an ask's minFiat is above what the incoming BUY leaves, then the next ask fills instead", () => {
      const demanding = sell({ remaining: 10n, minFiat: 8_00n, unitsPerCoin: coin });
      const modest = sell({ price: 101_00n, remaining: 10n, unitsPerCoin: coin });
      const result = matchOrder(buy({ price: 101_00n, remaining: 5n, unitsPerCoin: coin }), [demanding, modest]);
      expect(result.fills.map((f) => f.restingOrderId)).toEqual([modest.id]);
    });
  });

  describe("buyers' room for trades", () => {
    it('when the incoming buyer has room for one trade, then it makes one fill and the rest rests', () => {
      const asks = [sell({ remaining: 2n }), sell({ remaining: 2n })];
      const taker = buy({ remaining: 4n });
      const result = matchOrder(taker, asks, FILLS_PER_ORDER_MAX, new Map([[taker.userId, 1]]));
      expect(result.fills).toHaveLength(1);
      expect(result.remaining).toBe(2n);
      expect(result.rooms.get(taker.userId)).toBe(0);
    });

    it('when a resting buyer has no room, then an incoming SELL passes their bid by for the next one', () => {
      const blocked = buy({ price: 105_00n });
      const free = buy({ price: 100_00n });
      const result = matchOrder(
        sell({ remaining: 10n }),
        [blocked, free],
        FILLS_PER_ORDER_MAX,
        new Map([[blocked.userId, 0]]),
      );
      expect(result.fills.map((f) => f.restingOrderId)).toEqual([free.id]);
    });
  });
});
