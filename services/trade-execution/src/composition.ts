import type { Logger } from '@orrange/logger';
import { keyringFromConfig } from '@orrange/secrets';
import { createRuntime, type Runtime, type Sweeper } from '@orrange/runtime';
import { SCHEMA, type Config } from './config';
import { savePaymentMinute } from './data/trade.repository';
import type { TradeDeps } from './domain/trades.use-cases';
import { paymentDeadlineSweeper } from './messaging/deadline-sweeper';
import { createEventHandlers } from './messaging/event-handlers';
import { createBusinessMetrics } from './metrics';

export interface TradeExecution {
  runtime: Runtime;
  config: Config;
  deps: TradeDeps;
  /** Fires payment deadlines from the trades' rows. */
  deadlines: Sweeper;
  /** Background work: the runtime's relay and consumer, the deadline sweeper; the ledger's settings saved first. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Builds the runtime with this service's event handlers, and the dependencies of its use cases. */
export function createTradeExecution(config: Config, options: { logger?: Logger } = {}): TradeExecution {
  let deps: TradeDeps | undefined;
  const runtime = createRuntime({ service: 'trade-execution', schema: SCHEMA, config, logger: options.logger, handlers: createEventHandlers(() => deps!) });
  deps = { db: runtime.db, feeBps: config.TRADE_FEE_BPS, metrics: createBusinessMetrics(runtime.registry, runtime.db), keyring: keyringFromConfig(config) };
  const deadlines = paymentDeadlineSweeper(deps, { intervalMs: config.TIMER_SWEEP_MS, logger: runtime.logger, registry: runtime.registry });
  return {
    runtime,
    config,
    deps,
    deadlines,
    async start() {
      // open_trades runs in order-book's transactions and reads the payment-window minute from the schema. Only
      // tests change it (production refuses anything but the column's default), so a database still down at boot
      // is worth a warning, not a crash.
      await savePaymentMinute(runtime.db, config.PAYMENT_MINUTE_MS).catch((error: unknown) =>
        runtime.logger.warn('payment-window minute not saved', { error: error instanceof Error ? error.message : String(error) }));
      runtime.start();
      deadlines.start();
    },
    async stop() {
      await deadlines.stop();
    },
  };
}
