import { ADAPTIVE_LIMIT_MIN, AdaptiveLimit, DECREASE_EVERY_MS } from '../src/proxy/admission';

/** Answers `count` times at `latencyMs` with `inFlight` in flight, one decrease window apart from `from` on. */
function answerEachWindow(limit: AdaptiveLimit, count: number, latencyMs: number, inFlight: number, from = 0): number {
  for (let i = 0; i < count; i++) limit.answered(latencyMs, from + i * DECREASE_EVERY_MS, inFlight);
  return from + count * DECREASE_EVERY_MS;
}

describe('the adaptive in-flight limit of a service lane', () => {
  it('when answers are fast, then the limit stays at its maximum', () => {
    const limit = new AdaptiveLimit(64, 100);
    for (let i = 0; i < 1000; i++) limit.answered(20, i, 64);
    expect(limit.current).toBe(64);
  });

  it('when answers are slower than the target, then the limit shrinks once per window, in proportion to how far over, down to its minimum', () => {
    const limit = new AdaptiveLimit(64, 100);
    for (let i = 0; i < 100; i++) limit.answered(150, 1_000, 64); // one moment: at most one decrease
    // The average passed 100 on the 22nd answer (~101 ms): a little over, cut by a tenth at most.
    expect(limit.current).toBe(57);
    const twiceOver = new AdaptiveLimit(64, 100);
    for (let i = 0; i < 100; i++) twiceOver.answered(2_000, 1_000, 64);
    // Far over (the average 195 ms when it passed): cut in proportion, 64 × 100/195.
    expect(twiceOver.current).toBe(32);
    answerEachWindow(twiceOver, 20, 2_000, 64, 1_000 + DECREASE_EVERY_MS);
    expect(twiceOver.current).toBe(ADAPTIVE_LIMIT_MIN);
  });

  it('when answers are slow with fewer in flight than the limit, then the limit is cut from what is in flight', () => {
    const limit = new AdaptiveLimit(256, 100);
    for (let i = 0; i < 100; i++) limit.answered(2_000, 1_000, 100); // one moment: one decrease
    // 100 in flight were too many: the one decrease takes the limit below them (~half of 101), not to half of 256.
    expect(limit.current).toBe(51);
  });

  it('when answers are fast again while the limit is in use, then it grows back to its maximum and no further', () => {
    const limit = new AdaptiveLimit(64, 100);
    answerEachWindow(limit, 600, 2_000, 64);
    expect(limit.current).toBe(ADAPTIVE_LIMIT_MIN);
    for (let i = 0; i < 5_000; i++) limit.answered(10, 60_000 + i, 64);
    expect(limit.current).toBe(64);
  });

  it('when answers are fast but far fewer than the limit are in flight, then it does not grow (light load says nothing of what the upstream carries)', () => {
    const limit = new AdaptiveLimit(256, 100);
    answerEachWindow(limit, 600, 2_000, 256);
    expect(limit.current).toBe(ADAPTIVE_LIMIT_MIN);
    for (let i = 0; i < 200; i++) limit.answered(10, 60_000 + i, ADAPTIVE_LIMIT_MIN); // at the limit: it grows
    const grown = limit.current;
    expect(grown).toBeGreaterThan(ADAPTIVE_LIMIT_MIN);
    for (let i = 0; i < 20_000; i++) limit.answered(10, 70_000 + i, 2); // far below it: it stays
    expect(limit.current).toBe(grown);
  });

  it('when the maximum is below the minimum, then the maximum wins', () => {
    const limit = new AdaptiveLimit(3, 100);
    answerEachWindow(limit, 100, 2_000, 64);
    expect(limit.current).toBe(3);
  });

  it('when answers are slow but fewer than a quarter of the limit are in flight, then the limit does not shrink (shedding would not help)', () => {
    const limit = new AdaptiveLimit(64, 100);
    answerEachWindow(limit, 600, 2_000, 15);
    expect(limit.current).toBe(64);
  });
});
