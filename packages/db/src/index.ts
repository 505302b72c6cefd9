export {
  Database,
  type DatabaseOptions,
  type DatabaseHealth,
  type PoolStats,
  type Tx,
  type SqlRunner,
  type TransactionOptions,
  type TransactionAttempt,
  type TransactionRunner,
  type Settings,
  type Row,
} from './database';
export {
  PrismaDatabase,
  type PrismaTx,
  type GeneratedPrismaClass,
  type GeneratedPrismaClient,
  type GeneratedTxClient,
} from './prisma-adapter';
export type { Statement } from './pipeline';
export { ACTING_USER_SETTING, AS_SYSTEM, asUser } from './acting-user';
export { HealthMonitor, type ComponentStatus, type HealthMonitorOptions, type PingResult } from './health-monitor';
export { poolConfigFromUrl, withDatabase, databaseName, assertSchemaName, type PoolSettings } from './pool-config';
export {
  retry,
  backoffDelayMs,
  isConnectionError,
  isTransactionConflict,
  sqlState,
  DEFAULT_RETRY,
  type RetryOptions,
} from './retry';
