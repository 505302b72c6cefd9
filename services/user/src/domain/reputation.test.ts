import { completionRate, disputeLoser, publicStats } from './reputation';
import { Semaphore } from './semaphore';

describe('reputation', () => {
  it.each([
    [0, 0, null],
    [1, 0, '1.0000'],
    [0, 3, '0.0000'],
    [1, 2, '0.3333'],
    [2, 1, '0.6666'],
    [19, 1, '0.9500'],
  ])('when %i completed and %i cancelled, then the completion rate is %p', (completed, cancelled, rate) => {
    expect(completionRate(completed, cancelled)).toBe(rate);
  });

  it('when a dispute resolves, then the loser is the side that did not get the escrow', () => {
    expect(disputeLoser('RELEASE_TO_BUYER', 'b', 's')).toBe('s');
    expect(disputeLoser('REFUND_SELLER', 'b', 's')).toBe('b');
    expect(disputeLoser('SPLIT', 'b', 's')).toBeNull();
  });

  it('when a user has no stats row, then the public stats are zero with no rate', () => {
    expect(publicStats(undefined)).toEqual({
      tradesCompleted: 0,
      completionRate: null,
      disputesLost: 0,
      feedbackPositive: 0,
      feedbackNegative: 0,
      distinctCounterparties: 0,
      avgPaySeconds: null,
      avgReleaseSeconds: null,
      completionRate30d: null,
    });
  });
});

describe('semaphore', () => {
  it('when more tasks than slots arrive, then at most the limit run at once and the overflow beyond the queue is refused', async () => {
    const semaphore = new Semaphore(2, 2);
    let running = 0;
    let runningMax = 0;
    const release: Array<() => void> = [];
    const task = () =>
      semaphore.run(async () => {
        running += 1;
        runningMax = Math.max(runningMax, running);
        await new Promise<void>((resolve) => release.push(resolve));
        running -= 1;
      });
    let settled = 0;
    const accepted = [task(), task(), task(), task()].map((p) => p.then(() => (settled += 1)));
    await expect(task()).rejects.toMatchObject({ status: 503, code: 'SERVICE.BUSY' });
    for (let round = 0; settled < accepted.length && round < 100; round += 1) {
      await new Promise((resolve) => setImmediate(resolve));
      release.splice(0).forEach((finish) => finish());
    }
    await Promise.all(accepted);
    expect(runningMax).toBe(2);
  });
});
