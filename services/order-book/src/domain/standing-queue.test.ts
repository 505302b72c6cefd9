import { StandingQueue } from './standing-queue';

describe("a market queue's standing (CoDel's rule)", () => {
  it('when the oldest wait stays above the target at every batch for the interval, then the queue is standing', () => {
    const queue = new StandingQueue(100, 1_000);
    expect(queue.standing(150, 0)).toBe(false); // first seen behind: the interval starts
    expect(queue.standing(400, 999)).toBe(false);
    expect(queue.standing(120, 1_000)).toBe(true);
    expect(queue.standing(120, 5_000)).toBe(true);
  });

  it('when one batch starts with the oldest wait within the target, then the interval starts again', () => {
    const queue = new StandingQueue(100, 1_000);
    expect(queue.standing(150, 0)).toBe(false);
    expect(queue.standing(100, 600)).toBe(false); // caught up once: a burst, not a standing queue
    expect(queue.standing(150, 1_200)).toBe(false);
    expect(queue.standing(150, 2_199)).toBe(false);
    expect(queue.standing(150, 2_200)).toBe(true);
  });
});
