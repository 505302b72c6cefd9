/**
 * An event that no retry can apply: malformed, or well formed but refused by the domain (more decimals than its asset
 * has, a split beyond the trade's amount). Domain code and handlers throw it without knowing the queue library; the
 * consumer (consumer.ts) fails such a job at once, into the failed set where operators see it, instead of retrying it
 * with backoff. Any other error is retried.
 */
export class PermanentFailure extends Error {
  override readonly name = 'PermanentFailure';
}
