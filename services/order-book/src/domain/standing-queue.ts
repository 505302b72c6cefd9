/**
 * Whether a market's queue is standing, CoDel's rule: the oldest order waiting, seen each time a batch starts, has
 * waited longer than the target at every start for a whole interval. A burst that clears within the interval, or
 * one slow transaction, is not overload and sheds nothing: only a queue that stays behind does, because orders
 * come faster than the market's transactions complete.
 */
export class StandingQueue {
  private aboveSince: number | undefined;

  constructor(
    private readonly targetMs: number,
    private readonly intervalMs: number,
  ) {}

  /** At a batch's start, with the wait of the oldest order still pending: true while the queue is standing. */
  standing(oldestWaitMs: number, now: number): boolean {
    if (oldestWaitMs <= this.targetMs) {
      this.aboveSince = undefined;
      return false;
    }
    this.aboveSince ??= now;
    return now - this.aboveSince >= this.intervalMs;
  }
}
