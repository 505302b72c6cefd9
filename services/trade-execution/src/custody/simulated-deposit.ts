import { randomBytes, randomUUID } from 'node:crypto';
import { Database } from '@orrange/db';
import { ASSETS, ASSET_SCALES, isPositiveDecimal, type Asset } from '@orrange/money';
import { SCHEMA, type Config } from '../config';
import { depositAddressFor } from '../domain/deposits.use-case';
import { signWebhook } from '../domain/custody-webhook';
import { simulatedCustody, type SignedWebhook } from './simulated.provider';

/** Why a simulated deposit cannot be made (bad arguments, unknown user, not the simulated custody): told to the operator. */
export class SimulatedDepositRefused extends Error {}

const CONFIRMATIONS_MAX = 1_000_000;

/**
 * What the simulated custody posts when a user's deposit confirms (`pnpm custody:deposit`): the user's deposit
 * address on the configured network (recorded if they never asked for it), a fresh txid, and the signed
 * `deposit.confirmed` webhook, which the caller posts to the gateway like custody would.
 */
export async function simulatedDepositWebhook(
  config: Config,
  request: { email: string; asset: string; amount: string; confirmations?: string },
): Promise<SignedWebhook & { userId: string; address: string }> {
  if (config.CUSTODY_PROVIDER !== 'simulated')
    throw new SimulatedDepositRefused(
      'this deployment uses CUSTODY_PROVIDER=http: deposits come from the real custody',
    );
  if (!ASSETS.includes(request.asset as Asset))
    throw new SimulatedDepositRefused(`asset must be one of ${ASSETS.join(', ')}`);
  const asset = request.asset as Asset;
  if (!isPositiveDecimal(request.amount, ASSET_SCALES[asset]))
    throw new SimulatedDepositRefused(`amount must be a positive decimal with at most ${ASSET_SCALES[asset]} decimals`);
  if (
    request.confirmations !== undefined &&
    !(/^\d{1,7}$/.test(request.confirmations) && Number(request.confirmations) <= CONFIRMATIONS_MAX)
  ) {
    throw new SimulatedDepositRefused(`confirmations must be a whole number up to ${CONFIRMATIONS_MAX}`);
  }
  const confirmations =
    request.confirmations === undefined ? config.DEPOSIT_CONFIRMATIONS[asset] : Number(request.confirmations);
  const db = new Database({
    url: config.DATABASE_URL,
    name: 'custody-deposit',
    schema: SCHEMA,
    max: 2,
    healthIntervalMs: 0,
  });
  try {
    const [user] = await db.query<{ id: string }>(
      'SELECT id::text AS id FROM users.users WHERE lower(email) = lower($1)',
      [request.email],
    );
    if (!user) throw new SimulatedDepositRefused(`no user with the email ${request.email}`);
    const networks = { btc: config.BTC_NETWORK, evm: config.EVM_NETWORK };
    const provider = simulatedCustody({
      db,
      networks,
      addressKey: config.CUSTODY_SIMULATED_ADDRESS_KEY,
      webhookSecret: config.CUSTODY_WEBHOOK_SECRET,
      broadcastAfterMs: 0,
      confirmAfterMs: 0,
    });
    const { address } = await depositAddressFor({ db, provider, networks }, user.id, asset);
    const txid = randomBytes(32).toString('hex');
    const event = {
      id: randomUUID(),
      type: 'deposit.confirmed',
      asset,
      address,
      txid: asset === 'BTC' ? txid : `0x${txid}`,
      index: 0,
      amount: request.amount,
      confirmations,
    };
    const rawBody = JSON.stringify(event);
    return {
      rawBody: Buffer.from(rawBody),
      signature: signWebhook(config.CUSTODY_WEBHOOK_SECRET, rawBody),
      userId: user.id,
      address,
    };
  } finally {
    await db.close();
  }
}
