import { z } from 'zod';

/** Crypto assets and how many decimals each carries (API.md). */
export const ASSET_SCALES = { BTC: 8, ETH: 8, USDT: 6, USDC: 6 } as const;
export type Asset = keyof typeof ASSET_SCALES;
export const ASSETS = Object.keys(ASSET_SCALES) as Asset[];

/** Fiat currencies a market may be priced in (ISO 4217). Prices and fiat amounts carry 2 decimals. */
export const FIAT_CURRENCIES = [
  'USD',
  'EUR',
  'GBP',
  'NGN',
  'INR',
  'BRL',
  'KES',
  'CAD',
  'AUD',
  'JPY',
  'CHF',
  'ZAR',
  'GHS',
  'MXN',
  'ARS',
  'TRY',
  'AED',
] as const;
export type FiatCurrency = (typeof FIAT_CURRENCIES)[number];
export const FIAT_SCALE = 2;

/** Largest integer part we accept: keeps every amount inside NUMERIC(38, 8) and bigint math exact. */
const INTEGER_DIGITS_MAX = 18;

/** Compiled once per scale (no `g` or `y` flag, so a shared pattern keeps no state between tests). */
const decimalPatterns = new Map<number, RegExp>();

export function decimalPattern(scale: number): RegExp {
  let pattern = decimalPatterns.get(scale);
  if (!pattern) {
    pattern = new RegExp(`^(0|[1-9]\\d{0,${INTEGER_DIGITS_MAX - 1}})(\\.\\d{1,${scale}})?$`);
    decimalPatterns.set(scale, pattern);
  }
  return pattern;
}

/**
 * Parses an exact decimal string into integer minor units (BTC "0.015" → 1500000n). Rejects exponents,
 * signs, spaces, NaN and more decimals than `scale`: money never passes through a float.
 */
export function toUnits(decimal: string, scale: number): bigint {
  if (!decimalPattern(scale).test(decimal))
    throw new RangeError(`not a decimal with at most ${scale} places: ${decimal}`);
  const [whole, fraction = ''] = decimal.split('.');
  return BigInt(whole! + fraction.padEnd(scale, '0'));
}

/** Integer minor units back to a fixed-scale decimal string (1500000n, 8 → "0.01500000"). */
export function fromUnits(units: bigint, scale: number): string {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  const fraction = digits.slice(digits.length - scale);
  return `${negative ? '-' : ''}${whole}${scale > 0 ? `.${fraction}` : ''}`;
}

/**
 * Minor units of a decimal we wrote ourselves, e.g. a Postgres NUMERIC string ("12.5", "-0.00100000"): any number
 * of decimals as long as those beyond `scale` are zeros. For client input use toUnits, which is strict.
 */
export function numericUnits(decimal: string, scale: number): bigint {
  const negative = decimal.startsWith('-');
  const body = negative ? decimal.slice(1) : decimal;
  const [whole, fraction = ''] = body.split('.');
  if (fraction.replace(/0+$/, '').length > scale) throw new RangeError(`${decimal} has more than ${scale} decimals`);
  return (negative ? -1n : 1n) * BigInt((whole || '0') + fraction.slice(0, scale).padEnd(scale, '0'));
}

/** Normalises a decimal (e.g. a Postgres NUMERIC string) to the fixed scale of an asset or fiat. */
export function normalize(decimal: string, scale: number): string {
  return fromUnits(numericUnits(decimal, scale), scale);
}

/**
 * fiat = price × amount, rounded half-up to cents. `priceCents` is in cents, `amountUnits` in the
 * asset's minor units.
 */
export function fiatAmountCents(priceCents: bigint, amountUnits: bigint, asset: Asset): bigint {
  const divisor = 10n ** BigInt(ASSET_SCALES[asset]);
  const product = priceCents * amountUnits;
  return (product + divisor / 2n) / divisor;
}

/** A decimal string above zero with at most `scale` decimals (no sign, no exponent): what an amount must be. */
export function isPositiveDecimal(value: string, scale: number): boolean {
  return decimalPattern(scale).test(value) && /[1-9]/.test(value);
}

/** A zod schema for a strictly positive decimal string with at most `scale` decimals (isPositiveDecimal, with a message per rule). */
export function positiveDecimal(scale: number) {
  return z
    .string()
    .regex(decimalPattern(scale), `must be a decimal string with at most ${scale} decimals`)
    .refine((value) => /[1-9]/.test(value), 'must be greater than zero');
}

export const assetSchema = z.enum(ASSETS as [Asset, ...Asset[]]);
export const fiatSchema = z.enum(FIAT_CURRENCIES);
