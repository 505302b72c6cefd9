import type { Logger } from '@orrange/logger';
import { createRuntime, type Runtime } from '@orrange/runtime';
import { SCHEMA, type Config } from './config';
import type { TradeDeps } from './domain/trades.use-cases';
import { batchKeyOf, createEventHandlers } from './messaging/event-handlers';
import { createBusinessMetrics } from './metrics';

export interface TradeExecution {
  runtime: Runtime;
  config: Config;
  deps: TradeDeps;
}

/**
 * How many events the consumer takes at once. Grouped events (see batchKeyOf) wait for their group without a
 * database connection, so this is also about how large a group can grow.
 */
const CONSUMER_CONCURRENCY = 32;

/** Builds the runtime with this service's event handlers, and the dependencies of its use cases. */
export function createTradeExecution(config: Config, options: { logger?: Logger; consumerConcurrency?: number } = {}): TradeExecution {
  let deps: TradeDeps | undefined;
  const runtime = createRuntime({
    service: 'trade-execution',
    schema: SCHEMA,
    config,
    logger: options.logger,
    consumerConcurrency: options.consumerConcurrency ?? CONSUMER_CONCURRENCY,
    consumerBatchKey: batchKeyOf,
    ...createEventHandlers(() => deps!),
  });
  deps = { db: runtime.db, feeBps: config.TRADE_FEE_BPS, paymentMinuteMs: config.PAYMENT_MINUTE_MS, metrics: createBusinessMetrics(runtime.registry, runtime.db) };
  return { runtime, config, deps };
}
