import { ASSET_SCALES, ASSETS, FIAT_SCALE, fromUnits, normalize, numericUnits, type Asset } from '@orrange/money';
import type { MarketRow } from '../data/stats.repository';

/** vwap = fiat volume / crypto volume, in cents, rounded half-up; computed in integers. */
export function vwapCents(fiatVolumeCents: bigint, volumeUnits: bigint, asset: Asset): bigint | null {
  if (volumeUnits === 0n) return null;
  const numerator = fiatVolumeCents * 10n ** BigInt(ASSET_SCALES[asset]);
  return (numerator * 2n + volumeUnits) / (volumeUnits * 2n);
}

export function marketJson(m: MarketRow) {
  const scale = ASSET_SCALES[m.asset];
  const volume = numericUnits(m.volume, scale);
  const fiatVolume = numericUnits(m.fiat_volume, FIAT_SCALE);
  const vwap = vwapCents(fiatVolume, volume, m.asset);
  return {
    asset: m.asset,
    fiatCurrency: m.fiat_currency,
    lastPrice: normalize(m.last_price, FIAT_SCALE),
    high24h: m.high === null ? null : normalize(m.high, FIAT_SCALE),
    low24h: m.low === null ? null : normalize(m.low, FIAT_SCALE),
    vwap24h: vwap === null ? null : fromUnits(vwap, FIAT_SCALE),
    volume24h: fromUnits(volume, scale),
    fiatVolume24h: fromUnits(fiatVolume, FIAT_SCALE),
    trades24h: m.trades,
  };
}

export function volumesJson(rows: Array<{ asset: Asset; volume: string }>) {
  return ASSETS.map((asset) => ({
    asset,
    amount: normalize(rows.find((r) => r.asset === asset)?.volume ?? '0', ASSET_SCALES[asset]),
  }));
}
