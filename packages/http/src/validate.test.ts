import { AppError } from './errors';
import { wireUnits } from './validate';

describe('wireUnits', () => {
  it('when a decimal fits the scale, then it is its exact minor units', () => {
    expect(wireUnits('0.015', 8, 'amount')).toBe(1_500_000n);
    expect(wireUnits('64250.5', 2, 'price')).toBe(6_425_050n);
    expect(wireUnits('7', 6, 'amount')).toBe(7_000_000n);
  });

  it.each(['0', '0.00', '-1', '1e5', '1.123', ' 1', '1.', '.5', '01', 'NaN', ''])(
    'when the decimal is %p, then 400 VALIDATION.FAILED names the field',
    (bad) => {
      let error: unknown;
      try {
        wireUnits(bad, 2, 'minFiat');
      } catch (thrown) {
        error = thrown;
      }
      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({
        status: 400,
        code: 'VALIDATION.FAILED',
        errors: [{ path: 'minFiat', message: 'must be a positive decimal string with at most 2 decimals' }],
      });
    },
  );
});
