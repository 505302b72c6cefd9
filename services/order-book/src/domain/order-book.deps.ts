import type { Database } from '@orrange/db';
import type { Asset, FiatCurrency } from '@orrange/money';
import type { Limits } from './limits';
import type { MarketRulesCache } from '../data/market-rules-cache';
import type { OrderBatcher } from './order-batcher';

/** What the order-book use cases need from the outside world; built once per service (see src/composition.ts). */
export interface OrderBookDeps {
  db: Database;
  /** Called once a market's book changed to `sequence` (possibly before the commit is visible: the cache waits). */
  bookChanged(asset: Asset, fiatCurrency: FiatCurrency, sequence: bigint): void;
  /** Called once trades opened with their escrow have committed (a metric: they open in this service's transactions). */
  tradesOpened(asset: Asset, count: number): void;
  /** Serializes and batches the orders of each market within this replica. */
  batcher: OrderBatcher;
  /** The abuse limits (configuration). */
  limits: Limits;
  /** Every market's price band and minimum, in memory. */
  markets: MarketRulesCache;
}
