import type { Logger } from '@orrange/logger';
import { keyringFromConfig } from '@orrange/secrets';
import { createRuntime, type Runtime, type Sweeper } from '@orrange/runtime';
import { SCHEMA, type Config } from './config';
import type { CustodyCallObserver, CustodyProvider } from './custody/custody-provider';
import { simulatedChainReporter, withdrawalSender } from './custody/custody-sweepers';
import { httpCustody } from './custody/http.provider';
import { simulatedCustody, type SimulatedChain } from './custody/simulated.provider';
import { savePaymentMinute } from './data/trade.repository';
import type { CustodyDeps } from './domain/custody';
import type { TradeDeps } from './domain/trades.use-cases';
import { sendClaimMs } from './domain/withdrawals.use-cases';
import { paymentDeadlineSweeper } from './messaging/deadline-sweeper';
import { createEventHandlers } from './messaging/event-handlers';
import { LiveUpdates } from './messaging/live-updates';
import { createBusinessMetrics, createCustodyMetrics } from './metrics';

export interface TradeExecution {
  runtime: Runtime;
  config: Config;
  deps: TradeDeps;
  custody: CustodyDeps;
  /** Fires payment deadlines from the trades' rows. */
  deadlines: Sweeper;
  /** Sends approved withdrawals to custody. */
  withdrawals: Sweeper;
  /** The simulated provider's chain (reports broadcasts and confirmations); absent with the http provider. */
  simulatedChain?: Sweeper;
  /** Background work: the runtime's relay and consumer, the sweepers; the ledger's settings saved first. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The configured custody provider (the simulated one with its chain, or the http one). */
function createCustodyProvider(config: Config, runtime: Runtime, observeCall: CustodyCallObserver): CustodyProvider & { chain?: SimulatedChain } {
  const networks = { btc: config.BTC_NETWORK, evm: config.EVM_NETWORK };
  if (config.CUSTODY_PROVIDER === 'http') {
    return httpCustody({ baseUrl: config.CUSTODY_URL!, apiKey: config.CUSTODY_API_KEY!, webhookSecret: config.CUSTODY_WEBHOOK_SECRET, timeoutMs: config.CUSTODY_TIMEOUT_MS, attempts: config.CUSTODY_ATTEMPTS, observe: observeCall });
  }
  return simulatedCustody({
    db: runtime.db, networks, addressKey: config.CUSTODY_SIMULATED_ADDRESS_KEY, webhookSecret: config.CUSTODY_WEBHOOK_SECRET,
    broadcastAfterMs: config.CUSTODY_SIMULATED_BROADCAST_MS, confirmAfterMs: config.CUSTODY_SIMULATED_CONFIRM_MS,
  });
}

/** Builds the runtime with this service's event handlers, and the dependencies of its use cases. */
export function createTradeExecution(config: Config, options: { logger?: Logger; custodyProvider?: CustodyProvider } = {}): TradeExecution {
  let deps: TradeDeps | undefined;
  const runtime = createRuntime({
    service: 'trade-execution', schema: SCHEMA, config, logger: options.logger, handlers: createEventHandlers(() => deps!),
    onOutboxPublished: (rows) => deps?.live?.fromOutbox(rows),
  });
  const live = new LiveUpdates({ db: runtime.db, live: runtime.live, logger: runtime.logger });
  deps = { db: runtime.db, feeBps: config.TRADE_FEE_BPS, metrics: createBusinessMetrics(runtime.registry, runtime.db), keyring: keyringFromConfig(config), live };
  const deadlines = paymentDeadlineSweeper(deps, { intervalMs: config.TIMER_SWEEP_MS, logger: runtime.logger, registry: runtime.registry });

  const custodyMetrics = createCustodyMetrics(runtime.registry, runtime.db, options.custodyProvider?.name ?? config.CUSTODY_PROVIDER);
  const provider = options.custodyProvider ?? createCustodyProvider(config, runtime, custodyMetrics.observeCall);
  const custody: CustodyDeps = {
    db: runtime.db,
    provider,
    networks: { btc: config.BTC_NETWORK, evm: config.EVM_NETWORK },
    confirmations: config.DEPOSIT_CONFIRMATIONS,
    withdrawalFees: config.WITHDRAWAL_FEES,
    autoApproveMax: config.WITHDRAWAL_AUTO_APPROVE_MAX,
    dailyMax: config.WITHDRAWAL_DAILY_MAX,
    metrics: custodyMetrics,
  };
  const sweeping = { intervalMs: config.CUSTODY_SWEEP_MS, logger: runtime.logger, registry: runtime.registry };
  const withdrawals = withdrawalSender(custody, { ...sweeping, claimMs: sendClaimMs(config.CUSTODY_TIMEOUT_MS, config.CUSTODY_ATTEMPTS) });
  const chain = (provider as { chain?: SimulatedChain }).chain;
  const simulatedChain = chain && simulatedChainReporter(custody, chain, sweeping);
  return {
    runtime,
    config,
    deps,
    custody,
    deadlines,
    withdrawals,
    simulatedChain,
    async start() {
      // open_trades runs in order-book's transactions and reads the payment-window minute from the schema. Only
      // tests change it (production refuses anything but the column's default), so a database still down at boot
      // is worth a warning, not a crash.
      await savePaymentMinute(runtime.db, config.PAYMENT_MINUTE_MS).catch((error: unknown) =>
        runtime.logger.warn('payment-window minute not saved', { error: error instanceof Error ? error.message : String(error) }));
      runtime.start();
      deadlines.start();
      withdrawals.start();
      simulatedChain?.start();
    },
    async stop() {
      await Promise.all([deadlines.stop(), withdrawals.stop(), simulatedChain?.stop()]);
    },
  };
}
