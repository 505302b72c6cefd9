import { ASSET_SCALES, type Asset, type FiatCurrency } from '@orrange/money';

/** A market's last price and its last 24 hours: prices in cents, volume in the asset's units, fiat volume in cents. */
export interface MarketStats {
  asset: Asset;
  fiatCurrency: FiatCurrency;
  lastPrice: bigint;
  trades: number;
  volume: bigint;
  fiatVolume: bigint;
  high: bigint | null;
  low: bigint | null;
}

/** vwap = fiat volume / crypto volume, in cents, rounded half-up; computed in integers. */
export function vwapCents(fiatVolumeCents: bigint, volumeUnits: bigint, asset: Asset): bigint | null {
  if (volumeUnits === 0n) return null;
  const numerator = fiatVolumeCents * 10n ** BigInt(ASSET_SCALES[asset]);
  return (numerator * 2n + volumeUnits) / (volumeUnits * 2n);
}
