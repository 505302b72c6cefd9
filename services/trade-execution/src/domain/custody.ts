import type { Database } from '@orrange/db';
import type { Asset } from '@orrange/money';
import type { CustodyProvider } from './custody-provider';
import type { Networks } from './addresses/addresses';

/** Counts what custody does, for /metrics (see metrics.ts). */
export interface CustodyMetrics {
  depositCredited(asset: Asset): void;
  webhook(outcome: 'applied' | 'duplicate' | 'pending'): void;
  webhookRejected(reason: string): void;
  withdrawalTransition(to: string): void;
}

/** What the deposit, withdrawal and webhook use cases need: the database, the provider, and the operators' rules. */
export interface CustodyDeps {
  db: Database;
  provider: CustodyProvider;
  networks: Networks;
  /** Confirmations a deposit needs per asset before it is credited. */
  confirmations: Record<Asset, number>;
  /** Per asset, in minor units. */
  withdrawalFees: Record<Asset, bigint>;
  autoApproveMax: Record<Asset, bigint>;
  dailyMax: Record<Asset, bigint>;
  metrics: CustodyMetrics;
}
