import type { Logger } from '@orrange/logger';
import { dueItemsSweeper, Sweeper } from '@orrange/runtime';
import type { Registry } from 'prom-client';
import { AS_SYSTEM } from '@orrange/db';
import { dueWithdrawalIds } from '../data/withdrawal.repository';
import type { CustodyDeps } from '../domain/custody';
import { receiveCustodyWebhook } from '../domain/custody-webhooks.use-case';
import { sendWithdrawal } from '../domain/withdrawals.use-case';
import type { SimulatedChain } from './simulated.provider';

/** How many approved withdrawals one sweep sends to custody (one after another); a full batch sweeps again at once. */
export const DUE_SENDS_PER_SWEEP_MAX = 50;

interface SweeperOptions {
  intervalMs: number;
  claimMs: number;
  logger: Logger;
  registry: Registry;
}

/**
 * Approved withdrawals are rows with a due time (next_send_at): this sweep hands each to custody, and a send that
 * got no answer is parked with a later due time, so nothing depends on a process staying up.
 */
export function withdrawalSender(deps: CustodyDeps, options: SweeperOptions): Sweeper {
  return dueItemsSweeper({
    intervalMs: options.intervalMs,
    logger: options.logger,
    registry: options.registry,
    timer: 'withdrawal-send',
    what: 'withdrawal send',
    // Every user's approved withdrawals.
    due: (skipped) => dueWithdrawalIds(deps.db.withSettings(AS_SYSTEM).primary, DUE_SENDS_PER_SWEEP_MAX, skipped),
    fire: (id) => sendWithdrawal(deps, id, options.claimMs),
  });
}

/** The simulated chain's reports, posted through the webhook handling exactly as custody's signed webhooks are. */
export function simulatedChainReporter(
  deps: CustodyDeps,
  chain: SimulatedChain,
  options: Omit<SweeperOptions, 'claimMs'>,
): Sweeper {
  return new Sweeper({
    timer: 'simulated-custody',
    intervalMs: options.intervalMs,
    logger: options.logger,
    registry: options.registry,
    sweep: () =>
      chain.tick((webhook) =>
        receiveCustodyWebhook(deps, webhook.rawBody, webhook.signature).catch((error: unknown) => {
          // A report that does not apply is kept by the webhook handling; the chain moves on.
          options.logger.warn('simulated custody report not applied', {
            error: error instanceof Error ? error.message : String(error),
          });
        }),
      ),
  });
}
