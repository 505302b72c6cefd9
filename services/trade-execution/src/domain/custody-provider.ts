import type { Asset } from '@orrange/money';
import { checkWebhookSignature, type SignatureCheck } from './custody-webhook';

/** What custody is asked to send; `id` (the withdrawal's) is the idempotency key of the send. */
export interface WithdrawalOrder {
  id: string;
  asset: Asset;
  /** The amount that leaves, as a decimal string (the fee stays with us). */
  amount: string;
  address: string;
  network: string;
}

/** Observes every call to custody: which operation, how it ended, and how long it took (retries included). */
export type CustodyCallObserver = (
  operation: 'address' | 'send',
  outcome: 'ok' | 'refused' | 'unavailable',
  seconds: number,
) => void;

/** Custody did not answer definitively (timeout, connection error, 5xx): the send may or may not have happened. */
export class CustodyUnavailable extends Error {
  override readonly name = 'CustodyUnavailable';
}

/** Custody answered that it will not send this withdrawal (e.g. an address it refuses): nothing left. */
export class CustodyRefused extends Error {
  override readonly name = 'CustodyRefused';
}

/**
 * The one seam between the wallet and a custody provider: deposit addresses, withdrawals sent idempotently by
 * withdrawal id, and the webhooks through which custody reports deposits and what became of withdrawals.
 */
export interface CustodyProvider {
  readonly name: 'simulated' | 'http';
  /** The address `userId` deposits `asset` to; the same every time for the same user, asset and network. */
  depositAddress(userId: string, asset: Asset, network: string): Promise<string>;
  /**
   * Hands a withdrawal to custody. Resolves once custody has it (a repeat with the same id is harmless: custody
   * sends once). Throws CustodyRefused when custody will not send it, CustodyUnavailable when the outcome is unknown.
   */
  sendWithdrawal(order: WithdrawalOrder): Promise<void>;
  /** Whether a webhook's signature header fits its raw body (API.md's `X-Orrange-Signature`). */
  verifyWebhook(rawBody: Buffer, signatureHeader: string | undefined, nowSeconds?: number): SignatureCheck;
}

/** Both providers sign webhooks as API.md says; only the secret differs per deployment. */
export function webhookVerifier(secret: string): CustodyProvider['verifyWebhook'] {
  return (rawBody, header, nowSeconds) => checkWebhookSignature(secret, header, rawBody, nowSeconds);
}
