import { createHash, createHmac } from 'node:crypto';
import type { Database } from '@orrange/db';
import type { Asset } from '@orrange/money';
import { formatAddress, type Networks } from '../domain/addresses/addresses';
import { signWebhook } from '../domain/custody-webhook';
import { webhookVerifier, type CustodyProvider, type WithdrawalOrder } from '../domain/custody-provider';

export interface SimulatedCustodyOptions {
  db: Database;
  networks: Networks;
  addressKey: string;
  webhookSecret: string;
  broadcastAfterMs: number;
  confirmAfterMs: number;
}

/** The deterministic 20 bytes behind a user's simulated address: nobody holds its key, it only has the right format. */
export function simulatedKeyHash(addressKey: string, userId: string, asset: Asset, network: string): Buffer {
  return createHmac('sha256', addressKey).update(`${userId}\u0000${asset}\u0000${network}`).digest().subarray(0, 20);
}

/** A transaction id in the chain's format: 64 hex digits for bitcoin, 0x-prefixed for EVM chains. */
function simulatedTxid(withdrawalId: string, asset: Asset): string {
  const hash = createHash('sha256').update(`simulated-withdrawal:${withdrawalId}`).digest('hex');
  return asset === 'BTC' ? hash : `0x${hash}`;
}

/**
 * The `simulated` provider (development and tests, refused in production): addresses derived as HMAC of user and
 * asset in each chain's real format, and a pretend chain that reports each accepted withdrawal broadcast and then
 * confirmed through the same signed webhooks a real provider sends. What it accepted is a row of its own table,
 * so a restart loses nothing and a repeated send is the same send.
 */
export function simulatedCustody(options: SimulatedCustodyOptions): CustodyProvider & { chain: SimulatedChain } {
  return {
    name: 'simulated',
    async depositAddress(userId, asset, network) {
      return formatAddress(asset, simulatedKeyHash(options.addressKey, userId, asset, network), options.networks);
    },
    async sendWithdrawal(order: WithdrawalOrder) {
      await options.db.query(
        `INSERT INTO simulated_custody_sends (withdrawal_id, asset, amount, address, txid, broadcast_due_at, confirm_due_at)
         VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6::double precision / 1000), now() + make_interval(secs => $7::double precision / 1000))
         ON CONFLICT (withdrawal_id) DO NOTHING`,
        [
          order.id,
          order.asset,
          order.amount,
          order.address,
          simulatedTxid(order.id, order.asset),
          options.broadcastAfterMs,
          options.broadcastAfterMs + options.confirmAfterMs,
        ],
      );
    },
    verifyWebhook: webhookVerifier(options.webhookSecret),
    chain: new SimulatedChain(options),
  };
}

/** A webhook as custody posts it: the raw body and its signature header. */
export interface SignedWebhook {
  rawBody: Buffer;
  signature: string;
}

/** How many reports one tick of the simulated chain sends at most. */
const CHAIN_REPORTS_PER_TICK_MAX = 100;

/** The simulated chain's reporting: due broadcasts and confirmations, each posted once as a signed webhook. */
export class SimulatedChain {
  constructor(private readonly options: SimulatedCustodyOptions) {}

  /** Posts every due report through `deliver` (the webhook endpoint's own handling); resolves to how many it sent. */
  async tick(deliver: (webhook: SignedWebhook) => Promise<unknown>): Promise<number> {
    const { db, webhookSecret } = this.options;
    const due = await db.query<{ withdrawal_id: string; txid: string; stage: 'broadcast' | 'confirmed' }>(
      `SELECT withdrawal_id, txid, CASE WHEN broadcast_at IS NULL THEN 'broadcast' ELSE 'confirmed' END AS stage
       FROM simulated_custody_sends
       WHERE confirmed_at IS NULL AND broadcast_due_at <= now() AND (broadcast_at IS NULL OR confirm_due_at <= now())
       ORDER BY broadcast_due_at LIMIT $1`,
      [CHAIN_REPORTS_PER_TICK_MAX],
    );
    for (const send of due) {
      const body = JSON.stringify({
        id: `sim-${send.stage}-${send.withdrawal_id}`,
        type: `withdrawal.${send.stage}`,
        withdrawalId: send.withdrawal_id,
        txid: send.txid,
      });
      await deliver({ rawBody: Buffer.from(body), signature: signWebhook(webhookSecret, body) });
      // Marked after the delivery: a crash in between reports it again, which the webhook handling answers as applied.
      await db.query(
        `UPDATE simulated_custody_sends SET ${send.stage === 'broadcast' ? 'broadcast_at' : 'confirmed_at'} = now() WHERE withdrawal_id = $1`,
        [send.withdrawal_id],
      );
    }
    return due.length;
  }
}
