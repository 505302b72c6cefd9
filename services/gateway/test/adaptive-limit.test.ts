import { ADAPTIVE_LIMIT_MIN, AdaptiveLimit } from '../src/proxy/admission.middleware';

describe('the adaptive in-flight limit of a service lane', () => {
  it('when answers are fast, then the limit stays at its maximum', () => {
    const limit = new AdaptiveLimit(64, 150);
    for (let i = 0; i < 1000; i++) limit.answered(20, i, 64);
    expect(limit.current).toBe(64);
  });

  it('when answers stay slower than the target, then the limit shrinks by a tenth at most every 250 ms, down to its minimum', () => {
    const limit = new AdaptiveLimit(64, 150);
    for (let i = 0; i < 100; i++) limit.answered(2_000, 1_000, 64); // one moment: at most one decrease
    expect(limit.current).toBe(57);
    for (let t = 1_250; t < 60_000; t += 250) limit.answered(2_000, t, 64);
    expect(limit.current).toBe(ADAPTIVE_LIMIT_MIN);
  });

  it('when answers are fast again, then the limit grows back to its maximum and no further', () => {
    const limit = new AdaptiveLimit(64, 150);
    for (let t = 0; t < 60_000; t += 250) limit.answered(2_000, t, 64);
    expect(limit.current).toBe(ADAPTIVE_LIMIT_MIN);
    for (let i = 0; i < 5_000; i++) limit.answered(10, 60_000 + i, 64);
    expect(limit.current).toBe(64);
  });

  it('when the maximum is below the minimum, then the maximum wins', () => {
    const limit = new AdaptiveLimit(3, 150);
    for (let t = 0; t < 10_000; t += 250) limit.answered(2_000, t, 64);
    expect(limit.current).toBe(3);
  });

  it('when answers are slow but few requests are in flight, then the limit does not shrink (shedding would not help)', () => {
    const limit = new AdaptiveLimit(64, 150);
    for (let t = 0; t < 60_000; t += 250) limit.answered(2_000, t, 10);
    expect(limit.current).toBe(64);
  });
});
