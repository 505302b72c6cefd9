import { randomUUID } from 'node:crypto';
import request, { type Response } from 'supertest';
import type { Asset } from '@orrange/money';
import { signWebhook } from '../src/domain/custody-webhook';
import type { Harness } from './harness';

export const WEBHOOK = '/api/v1/custody/webhooks';

/** Posts a custody event signed with the service's secret (or `secret`), `ageSeconds` old. */
export function postWebhook(
  h: Harness,
  event: object | string,
  options: { secret?: string; ageSeconds?: number; signature?: string | null } = {},
): Promise<Response> {
  const body = typeof event === 'string' ? event : JSON.stringify(event);
  const signature =
    options.signature !== undefined
      ? options.signature
      : signWebhook(
          options.secret ?? h.config.CUSTODY_WEBHOOK_SECRET,
          body,
          Math.floor(Date.now() / 1000) - (options.ageSeconds ?? 0),
        );
  const req = request(h.app).post(WEBHOOK).set('content-type', 'application/json');
  if (signature !== null) req.set('x-orrange-signature', signature);
  return req.send(body);
}

export async function depositAddress(h: Harness, userId: string, asset: Asset): Promise<string> {
  const res = await request(h.app).get(`/api/v1/wallet/deposit-address?asset=${asset}`).set(h.as(userId));
  if (res.status !== 200) throw new Error(`deposit-address: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.address;
}

/** A `deposit.confirmed` event for a user's address, with enough confirmations unless told otherwise. */
export async function depositEvent(
  h: Harness,
  userId: string,
  asset: Asset,
  amount: string,
  overrides: Record<string, unknown> = {},
) {
  return {
    id: randomUUID(),
    type: 'deposit.confirmed',
    asset,
    address: await depositAddress(h, userId, asset),
    txid: randomUUID().replace(/-/g, '') + randomUUID().replace(/-/g, ''),
    index: 0,
    amount,
    confirmations: h.config.DEPOSIT_CONFIRMATIONS[asset],
    ...overrides,
  };
}

/** Credits a user through a signed custody deposit. */
export async function custodyDeposit(h: Harness, userId: string, asset: Asset, amount: string): Promise<void> {
  const res = await postWebhook(h, await depositEvent(h, userId, asset, amount));
  if (res.status !== 200 || res.body.status !== 'CREDITED')
    throw new Error(`deposit: ${res.status} ${JSON.stringify(res.body)}`);
}

/** Valid addresses of the default (mainnet) networks to withdraw to. */
export const ADDRESSES: Record<Asset, string> = {
  BTC: 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq',
  ETH: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed',
  USDT: '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359',
  USDC: '0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB',
};

export async function withdraw(
  h: Harness,
  userId: string,
  asset: Asset,
  amount: string,
  address = ADDRESSES[asset],
): Promise<Response> {
  return request(h.app).post('/api/v1/wallet/withdrawals').set(h.as(userId)).send({ asset, amount, address });
}

export async function withdrawalOf(h: Harness, userId: string, id: string) {
  const res = await request(h.app).get(`/api/v1/wallet/withdrawals/${id}`).set(h.as(userId));
  return res.body.withdrawal;
}

/** Every account balance of a kind and asset, summed (system accounts are spread over shards). */
export async function systemBalance(
  h: Harness,
  kind: 'EXTERNAL' | 'FEES' | 'PENDING_WITHDRAWAL',
  asset: Asset,
): Promise<string> {
  const [row] = await h.testDb.query<{ total: string }>(
    'SELECT coalesce(sum(balance), 0)::text AS total FROM accounts WHERE kind = $1 AND asset = $2',
    [kind, asset],
  );
  return row!.total;
}

/** What production needs besides its secrets: the http custody (the simulated one is refused) and a real webhook secret. */
export const PRODUCTION_CUSTODY = {
  CUSTODY_PROVIDER: 'http',
  CUSTODY_URL: 'http://127.0.0.1:9',
  CUSTODY_API_KEY: 'production-custody-api-key',
  CUSTODY_WEBHOOK_SECRET: 'production-custody-webhook-secret-0123456789',
};
