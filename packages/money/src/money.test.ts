import { fiatAmountCents, fromUnits, normalize, numericUnits, positiveDecimal, toUnits } from './money';

describe('money', () => {
  it('parses decimal strings into exact minor units', () => {
    expect(toUnits('0.015', 8)).toBe(1_500_000n);
    expect(toUnits('64250.50', 2)).toBe(6_425_050n);
    expect(toUnits('0', 6)).toBe(0n);
  });

  it.each(['1e5', '-1', '1.123456789', ' 1', '1.', '.5', 'NaN', '01', '1,5', '0x10', ''])('rejects %p', (bad) => {
    expect(() => toUnits(bad, 8)).toThrow(RangeError);
  });

  it('formats minor units at a fixed scale', () => {
    expect(fromUnits(1_500_000n, 8)).toBe('0.01500000');
    expect(fromUnits(6_425_050n, 2)).toBe('64250.50');
    expect(fromUnits(-5n, 2)).toBe('-0.05');
  });

  it('reads Postgres numerics as minor units, trailing zeros beyond the scale allowed', () => {
    expect(numericUnits('1.5', 8)).toBe(150000000n);
    expect(numericUnits('-0.10000000000', 2)).toBe(-10n);
    expect(numericUnits('42', 6)).toBe(42000000n);
    expect(() => numericUnits('0.123', 2)).toThrow(RangeError);
  });

  it('normalizes Postgres numerics', () => {
    expect(normalize('1.5', 8)).toBe('1.50000000');
    expect(normalize('-0.10000000000', 2)).toBe('-0.10');
    expect(() => normalize('0.123', 2)).toThrow(RangeError);
  });

  it('computes fiat amounts rounded half-up to cents', () => {
    expect(fiatAmountCents(6_425_050n, 1_500_000n, 'BTC')).toBe(96_376n); // 64250.50 × 0.015 = 963.7575
    expect(fiatAmountCents(100n, 1n, 'USDT')).toBe(0n);
  });

  it('validates positive decimals for the API', () => {
    const schema = positiveDecimal(2);
    expect(schema.safeParse('10.25').success).toBe(true);
    expect(schema.safeParse('0.00').success).toBe(false);
    expect(schema.safeParse(10.25).success).toBe(false);
    expect(schema.safeParse('10.255').success).toBe(false);
  });
});
