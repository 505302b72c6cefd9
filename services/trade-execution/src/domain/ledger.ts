import { createHash } from 'node:crypto';
import { ASSET_SCALES, fromUnits, type Asset } from '@orrange/money';

/** Account kinds. User accounts and FEES never go negative (a database CHECK); EXTERNAL mirrors the outside world. */
export type AccountKind = 'AVAILABLE' | 'HELD' | 'ESCROW' | 'EXTERNAL' | 'FEES' | 'PENDING_WITHDRAWAL';

/** One side of a movement: `units` (signed minor units) added to the account named by kind/owner/ref/asset. */
export interface Leg {
  kind: AccountKind;
  owner?: string;
  ref?: string;
  asset: Asset;
  units: bigint;
}

export interface Movement {
  /** Derived from what the movement is for, so the same movement can never be posted twice. */
  id: string;
  kind: string;
  ref: string;
  legs: Leg[];
}

export type PostOutcome = 'OK' | 'DUPLICATE' | 'INSUFFICIENT';

/** A user's balance of one asset, in its minor units: what they may use, what their SELL orders hold, what is in escrow. */
export interface Balance {
  asset: Asset;
  available: bigint;
  held: bigint;
  inEscrow: bigint;
}

/** One entry of a user's account: `amount` (signed minor units) moved by journal `journalId` of kind `type`. */
export interface LedgerLine {
  id: string;
  journalId: string;
  type: string;
  ref: string;
  account: string;
  accountRef: string | null;
  asset: Asset;
  amount: bigint;
  createdAt: Date;
}

export const available = (owner: string, asset: Asset, units: bigint): Leg => ({
  kind: 'AVAILABLE',
  owner,
  asset,
  units,
});
export const held = (owner: string, orderId: string, asset: Asset, units: bigint): Leg => ({
  kind: 'HELD',
  owner,
  ref: orderId,
  asset,
  units,
});
export const escrow = (owner: string, tradeId: string, asset: Asset, units: bigint): Leg => ({
  kind: 'ESCROW',
  owner,
  ref: tradeId,
  asset,
  units,
});
/**
 * How many accounts each system account (EXTERNAL, FEES) of an asset is spread over. Every deposit or withdrawal
 * touches EXTERNAL and every fee-bearing completion FEES: as one row per asset, each movement would lock it and
 * they would all queue on it. A movement picks a shard at random (the shard is the account's ref); what the
 * system holds is the sum over the shards, which the ledger's checks add up per kind and asset anyway.
 */
export const SYSTEM_ACCOUNT_SHARDS = 16;

const systemShard = () => `shard-${Math.floor(Math.random() * SYSTEM_ACCOUNT_SHARDS)}`;

export const external = (asset: Asset, units: bigint): Leg => ({ kind: 'EXTERNAL', ref: systemShard(), asset, units });
export const fees = (asset: Asset, units: bigint): Leg => ({ kind: 'FEES', ref: systemShard(), asset, units });
export const pendingWithdrawal = (asset: Asset, units: bigint): Leg => ({ kind: 'PENDING_WITHDRAWAL', asset, units });

/** A deterministic UUID (name-based, SHA-1 like v5) for "the movement of X", e.g. `journalId('escrow', tradeId)`. */
export function journalId(purpose: string, ref: string): string {
  const hex = createHash('sha1').update(`orrange:${purpose}:${ref}`).digest('hex').slice(0, 32).split('');
  hex[12] = '5';
  hex[16] = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  const h = hex.join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * Checks a movement before it reaches the database (which checks again): at least two legs, no zero legs,
 * and the legs of each asset sum to exactly zero. A failure is a programmer error, so it throws.
 */
export function assertBalanced(movement: Movement): void {
  if (movement.legs.length < 2) throw new Error(`movement ${movement.kind}:${movement.ref} has fewer than two legs`);
  const sums = new Map<Asset, bigint>();
  for (const leg of movement.legs) {
    if (leg.units === 0n) throw new Error(`movement ${movement.kind}:${movement.ref} has a zero leg`);
    sums.set(leg.asset, (sums.get(leg.asset) ?? 0n) + leg.units);
  }
  for (const [asset, sum] of sums)
    if (sum !== 0n) throw new Error(`movement ${movement.kind}:${movement.ref} does not balance for ${asset}: ${sum}`);
}

/** The JSON the post_journal SQL function takes: decimal strings at the asset's scale, never floats. */
export function legsJson(legs: Leg[]): string {
  return JSON.stringify(legsDocument(legs));
}

/** The JSON the post_journals SQL function takes: one {id, kind, ref, legs} per movement, in order. */
export function journalsJson(movements: Movement[]): string {
  return JSON.stringify(movements.map((m) => ({ id: m.id, kind: m.kind, ref: m.ref, legs: legsDocument(m.legs) })));
}

function legsDocument(legs: Leg[]) {
  return legs.map((l) => ({
    kind: l.kind,
    owner: l.owner ?? '',
    ref: l.ref ?? '',
    asset: l.asset,
    amount: fromUnits(l.units, ASSET_SCALES[l.asset]),
  }));
}

/** Fee in minor units: floor(amount × bps / 10 000), so the fee never exceeds what the contract says. */
export function feeUnits(amountUnits: bigint, feeBps: number): bigint {
  return (amountUnits * BigInt(feeBps)) / 10_000n;
}
