import { ASSET_SCALES, ASSETS, FIAT_SCALE, fromUnits, type Asset } from '@orrange/money';
import { vwapCents, type MarketStats } from '../domain/stats';

const fiat = (cents: bigint) => fromUnits(cents, FIAT_SCALE);
const fiatOrNull = (cents: bigint | null) => (cents === null ? null : fiat(cents));

/** One market as GET /stats/markets lists it. */
export function marketJson(m: MarketStats) {
  return {
    asset: m.asset,
    fiatCurrency: m.fiatCurrency,
    lastPrice: fiat(m.lastPrice),
    high24h: fiatOrNull(m.high),
    low24h: fiatOrNull(m.low),
    vwap24h: fiatOrNull(vwapCents(m.fiatVolume, m.volume, m.asset)),
    volume24h: fromUnits(m.volume, ASSET_SCALES[m.asset]),
    fiatVolume24h: fiat(m.fiatVolume),
    trades24h: m.trades,
  };
}

/** Every asset's volume (0 where nothing traded), as the admin statistics show it. */
export function volumesJson(volumes: Array<{ asset: Asset; volume: bigint }>) {
  return ASSETS.map((asset) => ({
    asset,
    amount: fromUnits(volumes.find((v) => v.asset === asset)?.volume ?? 0n, ASSET_SCALES[asset]),
  }));
}
