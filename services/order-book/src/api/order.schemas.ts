import { z } from 'zod';
import { pageFields } from '@orrange/http';
import {
  ASSET_SCALES,
  FIAT_SCALE,
  assetSchema,
  fiatSchema,
  isPositiveDecimal,
  positiveDecimal,
  toUnits,
} from '@orrange/money';
import { ORDER_STATUSES, PAYMENT_WINDOW_DEFAULT_MINUTES } from '../domain/order';

/** Decimal strings are bounded before any pattern runs: nobody makes us parse a megabyte of digits. */
const DECIMAL_LENGTH_MAX = 40;
export const PAYMENT_METHODS_MAX = 10;
export const TERMS_LENGTH_MAX = 1000;

/** Payment methods compare exactly when matching, so they are normalized: trimmed, single spaces, upper case. */
export function normalizePaymentMethod(value: string): string {
  return value.trim().replace(/ +/g, ' ').toUpperCase();
}

export const paymentMethodSchema = z
  .string()
  .max(256)
  .regex(/^[A-Za-z0-9_ -]*$/, 'may contain only letters, digits, spaces, "_" and "-"')
  .transform(normalizePaymentMethod)
  .pipe(z.string().min(1, 'must not be blank').max(64));

const decimalString = z.string().max(DECIMAL_LENGTH_MAX);
const fiatLimit = positiveDecimal(FIAT_SCALE);

/** How far ahead an order's expiresAt may lie (API.md: 5 minutes to 90 days). */
export const EXPIRY_AHEAD_MIN_MS = 5 * 60_000;
export const EXPIRY_AHEAD_MAX_MS = 90 * 24 * 3_600_000;

/** expiresAt: an ISO time 5 minutes to 90 days ahead (checked against the clock when the request is parsed). */
const expiresAt = z.iso
  .datetime({ offset: true })
  .transform((value) => new Date(value))
  .refine((at) => {
    const ahead = at.getTime() - Date.now();
    return ahead >= EXPIRY_AHEAD_MIN_MS && ahead <= EXPIRY_AHEAD_MAX_MS;
  }, 'must be 5 minutes to 90 days ahead');

function fiatLimitsInOrder(body: { minFiat?: string; maxFiat?: string }, ctx: z.RefinementCtx): void {
  if (
    body.minFiat !== undefined &&
    body.maxFiat !== undefined &&
    toUnits(body.minFiat, FIAT_SCALE) > toUnits(body.maxFiat, FIAT_SCALE)
  ) {
    ctx.addIssue({ code: 'custom', path: ['minFiat'], message: 'must not exceed maxFiat' });
  }
}

export const placeOrderBody = z
  .object({
    side: z.enum(['BUY', 'SELL']),
    asset: assetSchema,
    fiatCurrency: fiatSchema,
    price: positiveDecimal(FIAT_SCALE),
    amount: decimalString,
    minFill: decimalString.optional(),
    paymentMethods: z.array(paymentMethodSchema).min(1).max(PAYMENT_METHODS_MAX).optional(),
    paymentMethodIds: z.array(z.string().uuid()).min(1).max(PAYMENT_METHODS_MAX).optional(),
    paymentWindowMinutes: z.number().int().min(15).max(1440).default(PAYMENT_WINDOW_DEFAULT_MINUTES),
    terms: z.string().max(TERMS_LENGTH_MAX).optional(),
    minFiat: fiatLimit.optional(),
    maxFiat: fiatLimit.optional(),
    expiresAt: expiresAt.optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    fiatLimitsInOrder(body, ctx);
    const scale = ASSET_SCALES[body.asset];
    const message = `must be a positive decimal string with at most ${scale} decimals`;
    if (!isPositiveDecimal(body.amount, scale)) ctx.addIssue({ code: 'custom', path: ['amount'], message });
    if (body.minFill !== undefined) {
      if (!isPositiveDecimal(body.minFill, scale)) ctx.addIssue({ code: 'custom', path: ['minFill'], message });
      else if (isPositiveDecimal(body.amount, scale) && toUnits(body.minFill, scale) > toUnits(body.amount, scale)) {
        ctx.addIssue({ code: 'custom', path: ['minFill'], message: 'must not exceed amount' });
      }
    }
    if (body.paymentMethods && new Set(body.paymentMethods).size !== body.paymentMethods.length)
      ctx.addIssue({ code: 'custom', path: ['paymentMethods'], message: 'must be unique' });
    if (!body.paymentMethods && !body.paymentMethodIds)
      ctx.addIssue({ code: 'custom', path: ['paymentMethods'], message: 'required (or paymentMethodIds on a SELL)' });
    if (body.paymentMethodIds && body.side !== 'SELL')
      ctx.addIssue({
        code: 'custom',
        path: ['paymentMethodIds'],
        message: "only a SELL names the seller's saved payment methods",
      });
    if (body.paymentMethodIds && new Set(body.paymentMethodIds).size !== body.paymentMethodIds.length)
      ctx.addIssue({ code: 'custom', path: ['paymentMethodIds'], message: 'must be unique' });
  });

/** PATCH /orders/:id: any of the owner's choices; null clears minFiat, maxFiat or expiresAt. Amounts are checked against the order's asset. */
export const patchOrderBody = z
  .object({
    price: positiveDecimal(FIAT_SCALE).optional(),
    amount: decimalString.optional(),
    minFill: decimalString.optional(),
    minFiat: fiatLimit.nullable().optional(),
    maxFiat: fiatLimit.nullable().optional(),
    paymentMethods: z.array(paymentMethodSchema).min(1).max(PAYMENT_METHODS_MAX).optional(),
    paymentMethodIds: z.array(z.string().uuid()).max(PAYMENT_METHODS_MAX).optional(),
    terms: z.string().max(TERMS_LENGTH_MAX).nullable().optional(),
    paymentWindowMinutes: z.number().int().min(15).max(1440).optional(),
    expiresAt: expiresAt.nullable().optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (Object.keys(body).length === 0) ctx.addIssue({ code: 'custom', path: [], message: 'must change something' });
    fiatLimitsInOrder({ minFiat: body.minFiat ?? undefined, maxFiat: body.maxFiat ?? undefined }, ctx);
    if (body.paymentMethods && new Set(body.paymentMethods).size !== body.paymentMethods.length)
      ctx.addIssue({ code: 'custom', path: ['paymentMethods'], message: 'must be unique' });
    if (body.paymentMethodIds && new Set(body.paymentMethodIds).size !== body.paymentMethodIds.length)
      ctx.addIssue({ code: 'custom', path: ['paymentMethodIds'], message: 'must be unique' });
  });

export const takeOrderBody = z.object({ amount: decimalString, paymentMethod: paymentMethodSchema }).strict();

export const listOrdersQuery = z
  .object({
    asset: assetSchema,
    fiatCurrency: fiatSchema,
    side: z.enum(['BUY', 'SELL']).optional(),
    paymentMethod: paymentMethodSchema.optional(),
    minAmount: decimalString.optional(),
    ...pageFields,
  })
  .strict()
  .superRefine((q, ctx) => {
    if (q.minAmount !== undefined && !isPositiveDecimal(q.minAmount, ASSET_SCALES[q.asset])) {
      ctx.addIssue({
        code: 'custom',
        path: ['minAmount'],
        message: `must be a positive decimal string with at most ${ASSET_SCALES[q.asset]} decimals`,
      });
    }
  });

export const myOrdersQuery = z.object({ status: z.enum(ORDER_STATUSES).optional(), ...pageFields }).strict();

export const orderBookQuery = z
  .object({ asset: assetSchema, fiatCurrency: fiatSchema, depth: z.coerce.number().int().min(1).max(100).default(20) })
  .strict();

export const orderIdParam = z.string().uuid();

/** Actions without a body (pause, resume) accept none or an empty object. */
export const emptyBody = z.object({}).strict();
