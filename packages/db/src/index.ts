export { Database, type DatabaseOptions, type DatabaseHealth, type PoolStats, type Queryable, type Tx, type TransactionOptions, type Row } from './database';
export { writableHostClient } from './failover';
export { type Statement } from './pipeline';
export { HealthMonitor, type ComponentStatus, type HealthMonitorOptions, type PingResult } from './health-monitor';
export { poolConfigFromUrl, withDatabase, databaseName, assertSchemaName, type PoolSettings } from './pool-config';
export { retry, backoffDelayMs, isConnectionError, isTransactionConflict, DEFAULT_RETRY, type RetryOptions } from './retry';
