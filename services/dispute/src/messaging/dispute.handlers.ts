import { ASSET_SCALES, normalize } from '@orrange/money';
import { PermanentFailure, type EventHandlers } from '@orrange/queue';
import type { DisputeTx } from '../data/prisma';
import { onTradeResolved, openCase, type DisputeEventDeps } from '../domain/dispute.use-case';

/**
 * The dispute service's queue. Each handler runs in the consumer's transaction with the event's inbox row (a Prisma
 * transaction: composition.ts gives the consumer the service's), so a redelivery changes nothing; throwing retries
 * with backoff.
 */
export function disputeHandlers(deps: DisputeEventDeps): EventHandlers<DisputeTx> {
  return {
    'trade.disputed': async (event, tx) => {
      const { asset, amount } = event.payload;
      if (!fitsScale(amount, ASSET_SCALES[asset]))
        throw new PermanentFailure(
          `trade.disputed ${event.id}: amount ${amount} has more decimals than ${asset} allows`,
        );
      await openCase(deps, tx, event.payload);
    },
    // Written by versions before timers were rows (timer-sweepers.ts fires them from the case's columns); one still
    // in a queue or an outbox is consumed and changes nothing.
    'dispute.deadline': async () => undefined,
    'trade.resolved': (event, tx) => onTradeResolved(tx, event.payload),
  };
}

function fitsScale(decimal: string, scale: number): boolean {
  try {
    normalize(decimal, scale);
    return !decimal.startsWith('-');
  } catch {
    return false;
  }
}
