import type { Logger } from '@orrange/logger';
import { createRuntime, type Runtime } from '@orrange/runtime';
import { SCHEMA, type Config } from './config';
import type { TradeDeps } from './domain/trades.use-cases';
import { createEventHandlers } from './messaging/event-handlers';
import { createBusinessMetrics } from './metrics';

export interface TradeExecution {
  runtime: Runtime;
  config: Config;
  deps: TradeDeps;
}

/** Builds the runtime with this service's event handlers, and the dependencies of its use cases. */
export function createTradeExecution(config: Config, options: { logger?: Logger; consumerConcurrency?: number } = {}): TradeExecution {
  let deps: TradeDeps | undefined;
  const runtime = createRuntime({
    service: 'trade-execution',
    schema: SCHEMA,
    config,
    logger: options.logger,
    consumerConcurrency: options.consumerConcurrency,
    handlers: createEventHandlers(() => deps!),
  });
  deps = { db: runtime.db, feeBps: config.TRADE_FEE_BPS, paymentMinuteMs: config.PAYMENT_MINUTE_MS, metrics: createBusinessMetrics(runtime.registry, runtime.db) };
  return { runtime, config, deps };
}
