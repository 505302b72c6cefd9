import { setTimeout as sleep } from 'node:timers/promises';
import type { Asset } from '@orrange/money';
import {
  CustodyRefused,
  CustodyUnavailable,
  webhookVerifier,
  type CustodyCallObserver,
  type CustodyProvider,
  type WithdrawalOrder,
} from '../domain/custody-provider';

export interface HttpCustodyOptions {
  baseUrl: string;
  apiKey: string;
  webhookSecret: string;
  /** Each attempt is abandoned after this long. */
  timeoutMs: number;
  /** Attempts per call; between them 200 ms, 400 ms, 800 ms … (with jitter). */
  attempts: number;
  observe?: CustodyCallObserver;
  backoffBaseMs?: number;
}

const BACKOFF_BASE_MS = 200;
const ANSWER_BYTES_MAX = 65_536;

/** Answers that mean "try again" (the request may not have been processed); other 4xx are definitive refusals. */
const RETRYABLE_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);

type Attempt = { ok: true; status: number; body: unknown } | { ok: false; retryable: boolean; reason: string };

/**
 * The `http` provider: a real custody service by CUSTODY_URL and API key. Every call has a timeout and is retried
 * with exponential backoff while the outcome is unknown; a send carries the withdrawal id as its Idempotency-Key,
 * so however often it is repeated (here, or by the next sweep after a crash) custody sends once.
 *   POST {CUSTODY_URL}/v1/addresses   { userId, asset, network }              → 200/201 { address }
 *   POST {CUSTODY_URL}/v1/withdrawals { id, asset, amount, address, network } → 200/201/202, or 409 (already have it)
 */
export function httpCustody(options: HttpCustodyOptions): CustodyProvider {
  const base = options.baseUrl.replace(/\/+$/, '');
  const backoffMs = options.backoffBaseMs ?? BACKOFF_BASE_MS;

  async function attempt(path: string, body: object, idempotencyKey: string): Promise<Attempt> {
    const signal = AbortSignal.timeout(options.timeoutMs);
    try {
      const res = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${options.apiKey}`,
          'idempotency-key': idempotencyKey,
        },
        body: JSON.stringify(body),
        signal,
      });
      const text = (await res.text()).slice(0, ANSWER_BYTES_MAX);
      if (res.ok || res.status === 409) return { ok: true, status: res.status, body: safeJson(text) };
      return { ok: false, retryable: RETRYABLE_STATUSES.has(res.status), reason: `custody answered ${res.status}` };
    } catch (error) {
      const reason = signal.aborted
        ? `no answer within ${options.timeoutMs} ms`
        : `custody unreachable: ${error instanceof Error ? error.message : String(error)}`;
      return { ok: false, retryable: true, reason };
    }
  }

  async function call(
    operation: 'address' | 'send',
    path: string,
    body: object,
    idempotencyKey: string,
  ): Promise<{ status: number; body: unknown }> {
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    let last = 'no attempt';
    for (let n = 0; n < options.attempts; n += 1) {
      if (n > 0) await sleep(backoffMs * 2 ** (n - 1) * (0.75 + Math.random() / 2));
      const result = await attempt(path, body, idempotencyKey);
      if (result.ok) {
        options.observe?.(operation, 'ok', seconds());
        return result;
      }
      last = result.reason;
      if (!result.retryable) {
        options.observe?.(operation, 'refused', seconds());
        throw new CustodyRefused(result.reason);
      }
    }
    options.observe?.(operation, 'unavailable', seconds());
    throw new CustodyUnavailable(`${last} (after ${options.attempts} attempts)`);
  }

  return {
    name: 'http',
    async depositAddress(userId: string, asset: Asset, network: string) {
      const answer = await call(
        'address',
        '/v1/addresses',
        { userId, asset, network },
        `address:${userId}:${asset}:${network}`,
      );
      const address = (answer.body as { address?: unknown } | null)?.address;
      if (typeof address !== 'string' || address.length === 0 || address.length > 128)
        throw new CustodyUnavailable('custody answered without an address');
      return address;
    },
    async sendWithdrawal(order: WithdrawalOrder) {
      await call('send', '/v1/withdrawals', order, order.id);
    },
    verifyWebhook: webhookVerifier(options.webhookSecret),
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
