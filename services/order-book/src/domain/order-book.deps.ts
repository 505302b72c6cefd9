import type { Database } from '@orrange/db';
import type { Asset, FiatCurrency } from '@orrange/money';
import type { MarketBatcher } from './place-order.use-case';

/** What the order-book use cases need from the outside world; built once per runtime (see src/order-book.ts). */
export interface OrderBookDeps {
  db: Database;
  /** Called once a market's book changed to `sequence` (possibly before the commit is visible: the cache waits). */
  bookChanged(asset: Asset, fiatCurrency: FiatCurrency, sequence: bigint): void;
  /** Serializes and batches the BUY orders of each market within this replica. */
  batcher: MarketBatcher;
}
