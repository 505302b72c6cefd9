import type { Logger } from '@orrange/logger';
import { keyringFromConfig } from '@orrange/secrets';
import { createRuntime, Sweeper, type Runtime, type Service } from '@orrange/runtime';
import { SCHEMA, type Config } from './config';
import type { CustodyCallObserver, CustodyProvider } from './domain/custody-provider';
import { simulatedChainReporter, withdrawalSender } from './custody/custody-sweepers';
import { httpCustody } from './custody/http.provider';
import { simulatedCustody, type SimulatedChain } from './custody/simulated.provider';
import { advanceLedgerCheckpoint, CHECKPOINT_ENTRIES_MAX } from './data/ledger-checkpoint.repository';
import { savePaymentMinute } from './data/trade.repository';
import type { CustodyDeps } from './domain/custody';
import type { TradeDeps } from './domain/trades.use-case';
import { sendClaimMs } from './domain/withdrawals.use-case';
import { paymentDeadlineSweeper } from './messaging/deadline-sweeper';
import { createEventHandlers } from './messaging/event-handlers';
import { LiveUpdates } from './messaging/live-updates';
import { createBusinessMetrics, createCustodyMetrics } from './metrics';

export interface TradeExecutionService extends Service {
  config: Config;
  deps: TradeDeps;
  /** Live updates of trades, chats and balances, written after commits. */
  live: LiveUpdates;
  custody: CustodyDeps;
  /** Fires payment deadlines from the trades' rows. */
  deadlines: Sweeper;
  /** Sends approved withdrawals to custody. */
  withdrawals: Sweeper;
  /** The simulated provider's chain (reports broadcasts and confirmations); absent with the http provider. */
  simulatedChain?: Sweeper;
}

/** The configured custody provider (the simulated one with its chain, or the http one). */
function createCustodyProvider(
  config: Config,
  runtime: Runtime,
  observeCall: CustodyCallObserver,
): CustodyProvider & { chain?: SimulatedChain } {
  const networks = { btc: config.BTC_NETWORK, evm: config.EVM_NETWORK };
  if (config.CUSTODY_PROVIDER === 'http') {
    return httpCustody({
      baseUrl: config.CUSTODY_URL!,
      apiKey: config.CUSTODY_API_KEY!,
      webhookSecret: config.CUSTODY_WEBHOOK_SECRET,
      timeoutMs: config.CUSTODY_TIMEOUT_MS,
      attempts: config.CUSTODY_ATTEMPTS,
      observe: observeCall,
    });
  }
  return simulatedCustody({
    db: runtime.db,
    networks,
    addressKey: config.CUSTODY_SIMULATED_ADDRESS_KEY,
    webhookSecret: config.CUSTODY_WEBHOOK_SECRET,
    broadcastAfterMs: config.CUSTODY_SIMULATED_BROADCAST_MS,
    confirmAfterMs: config.CUSTODY_SIMULATED_CONFIRM_MS,
  });
}

/**
 * The trade-execution service: its runtime consuming the service's events, the live updates of what its outbox
 * published, the dependencies of its use cases, and its sweepers (payment deadlines, withdrawals, the simulated
 * chain) started and stopped with the runtime. index.ts and the test harness both build it here.
 */
export function createTradeExecutionService(
  config: Config,
  overrides: { logger?: Logger; custodyProvider?: CustodyProvider } = {},
): TradeExecutionService {
  const runtime = createRuntime({ service: 'trade-execution', schema: SCHEMA, config, logger: overrides.logger });
  const live = new LiveUpdates({ db: runtime.db, live: runtime.live, logger: runtime.logger });
  const deps: TradeDeps = {
    db: runtime.db,
    feeBps: config.TRADE_FEE_BPS,
    metrics: createBusinessMetrics(runtime.registry, runtime.db),
    keyring: keyringFromConfig(config),
    live,
  };
  runtime.consume(createEventHandlers(deps));
  runtime.relay.onPublished((rows) => live.fromOutbox(rows));
  const deadlines = paymentDeadlineSweeper(deps, live, {
    intervalMs: config.TIMER_SWEEP_MS,
    logger: runtime.logger,
    registry: runtime.registry,
  });

  const custodyMetrics = createCustodyMetrics(
    runtime.registry,
    runtime.db,
    overrides.custodyProvider?.name ?? config.CUSTODY_PROVIDER,
  );
  const provider = overrides.custodyProvider ?? createCustodyProvider(config, runtime, custodyMetrics.observeCall);
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
  const withdrawals = withdrawalSender(custody, {
    ...sweeping,
    claimMs: sendClaimMs(config.CUSTODY_TIMEOUT_MS, config.CUSTODY_ATTEMPTS),
  });
  const chain = (provider as { chain?: SimulatedChain }).chain;
  const simulatedChain = chain && simulatedChainReporter(custody, chain, sweeping);
  runtime.sweepers.push(deadlines, withdrawals, ...(simulatedChain ? [simulatedChain] : []));
  // Not a timer (no registry): a full step means more entries wait, and the sweep runs again at once.
  runtime.sweepers.push(
    new Sweeper({
      timer: 'ledger-checkpoint',
      intervalMs: config.LEDGER_CHECKPOINT_INTERVAL_MS,
      logger: runtime.logger,
      sweep: async () => ((await advanceLedgerCheckpoint(runtime.db)) >= CHECKPOINT_ENTRIES_MAX ? 1 : 0),
    }),
  );
  return {
    runtime,
    config,
    deps,
    live,
    custody,
    deadlines,
    withdrawals,
    simulatedChain,
    async start() {
      // open_trades runs in order-book's transactions and reads the payment-window minute from the schema. Only
      // tests change it (production refuses anything but the column's default), so a database still down at boot
      // is worth a warning, not a crash.
      await savePaymentMinute(runtime.db, config.PAYMENT_MINUTE_MS).catch((error: unknown) =>
        runtime.logger.warn('payment-window minute not saved', {
          error: error instanceof Error ? error.message : String(error),
        }),
      );
      runtime.start();
    },
    close: () => runtime.close(),
  };
}
