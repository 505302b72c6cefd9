import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { ASSET_SCALES, assetSchema, isPositiveDecimal } from '@orrange/money';

/** A webhook older (or further in the future) than this is refused: a captured one cannot be replayed later. */
export const WEBHOOK_TOLERANCE_SECONDS = 300;
export const SIGNATURE_HEADER = 'x-orrange-signature';
const SIGNATURE_HEADER_LENGTH_MAX = 512;

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`, as API.md's custody webhooks carry it. */
export function signWebhook(
  secret: string,
  rawBody: string | Buffer,
  nowSeconds = Math.floor(Date.now() / 1000),
): string {
  return `t=${nowSeconds},v1=${hmacHex(secret, nowSeconds, rawBody)}`;
}

function hmacHex(secret: string, timestamp: number | string, rawBody: string | Buffer): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex');
}

export type SignatureCheck = 'OK' | 'MISSING' | 'MALFORMED' | 'STALE' | 'MISMATCH';

/**
 * Checks a webhook's signature header against the raw body: the timestamp within WEBHOOK_TOLERANCE_SECONDS of
 * now, and one of its `v1` signatures equal to ours, compared in constant time (a timing difference would let a
 * caller find a valid signature byte by byte).
 */
export function checkWebhookSignature(
  secret: string,
  header: string | undefined,
  rawBody: Buffer,
  nowSeconds = Math.floor(Date.now() / 1000),
): SignatureCheck {
  if (!header) return 'MISSING';
  if (header.length > SIGNATURE_HEADER_LENGTH_MAX) return 'MALFORMED';
  const parts = header.split(',').map((part) => part.trim().split('='));
  const timestamp = parts.find(([key]) => key === 't')?.[1];
  const signatures = parts
    .filter(([key, value]) => key === 'v1' && value !== undefined && /^[0-9a-f]{64}$/.test(value))
    .map(([, value]) => Buffer.from(value!, 'hex'));
  if (!timestamp || !/^\d{1,12}$/.test(timestamp) || signatures.length === 0) return 'MALFORMED';
  if (Math.abs(nowSeconds - Number(timestamp)) > WEBHOOK_TOLERANCE_SECONDS) return 'STALE';
  const expected = Buffer.from(hmacHex(secret, timestamp, rawBody), 'hex');
  // Every candidate is compared, so the time taken does not depend on which one matched.
  let matched = false;
  for (const signature of signatures) matched = timingSafeEqual(signature, expected) || matched;
  return matched ? 'OK' : 'MISMATCH';
}

const id = z.string().min(1).max(128);
/**
 * A transaction id. Bitcoin's and the EVM chains' are hex, whose case means nothing: they are kept in lower case, so
 * an output reported once as `0xAB…` and again as `0xab…` is one deposit, credited once.
 */
const txid = z
  .string()
  .regex(/^[0-9A-Za-z]{1,128}$/, 'must be 1–128 letters or digits')
  .transform((value) => (/^(0x)?[0-9a-f]+$/i.test(value) ? value.toLowerCase() : value));

export const depositEventSchema = z
  .object({
    id,
    type: z.literal('deposit.confirmed'),
    asset: assetSchema,
    address: z.string().min(1).max(128),
    txid,
    index: z.number().int().min(0).max(1_000_000),
    amount: z.string().max(40),
    confirmations: z.number().int().min(0).max(1_000_000_000),
  })
  .strict()
  .superRefine((event, ctx) => {
    if (!isPositiveDecimal(event.amount, ASSET_SCALES[event.asset]))
      ctx.addIssue({
        code: 'custom',
        path: ['amount'],
        message: `must be a positive decimal with at most ${ASSET_SCALES[event.asset]} decimals`,
      });
  });

export const withdrawalEventSchema = z
  .object({
    id,
    type: z.enum(['withdrawal.broadcast', 'withdrawal.confirmed', 'withdrawal.failed']),
    withdrawalId: z.string().uuid(),
    txid: txid.optional(),
    reason: z.string().max(500).optional(),
  })
  .strict()
  .refine((event) => event.type === 'withdrawal.failed' || event.txid !== undefined, {
    message: 'broadcast and confirmed events carry the txid',
    path: ['txid'],
  });

export const custodyEventSchema = z.union([depositEventSchema, withdrawalEventSchema]);

export type DepositEvent = z.infer<typeof depositEventSchema>;
export type WithdrawalEvent = z.infer<typeof withdrawalEventSchema>;
export type CustodyEvent = DepositEvent | WithdrawalEvent;

/** The event in a verified body, or why it is malformed (not JSON, or not one of API.md's custody events). */
export function parseCustodyEvent(rawBody: Buffer): { event: CustodyEvent } | { malformed: string } {
  let json: unknown;
  try {
    json = JSON.parse(rawBody.toString('utf8'));
  } catch {
    return { malformed: 'body is not JSON' };
  }
  const type = (json as { type?: unknown } | null)?.type;
  const schema = type === 'deposit.confirmed' ? depositEventSchema : withdrawalEventSchema;
  const result = schema.safeParse(json);
  if (!result.success)
    return {
      malformed: result.error.issues
        .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
        .join('; ')
        .slice(0, 500),
    };
  return { event: result.data };
}
