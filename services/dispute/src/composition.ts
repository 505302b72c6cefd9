import type { Logger } from '@orrange/logger';
import { createRuntime, type Service } from '@orrange/runtime';
import { keyringFromConfig } from '@orrange/secrets';
import { SCHEMA, type Config } from './config';
import { createDisputeDatabase } from './data/prisma';
import type { DisputeDeps } from './domain/dispute.use-case';
import { createArbitrationMetrics, registerArbitrationMetrics } from './messaging/arbitration.metrics';
import { disputeHandlers } from './messaging/dispute.handlers';
import { disputeTimerSweepers } from './messaging/timer-sweepers';

export interface DisputeService extends Service {
  deps: DisputeDeps;
}

const MS_PER_HOUR = 3_600_000;
const MS_PER_MINUTE = 60_000;

/**
 * The dispute service: its runtime consuming the service's events, its arbitration metrics and its timer sweepers
 * (started and stopped with the runtime). index.ts and the test harness both build it here.
 */
export function createDisputeService(config: Config, overrides: { logger?: Logger } = {}): DisputeService {
  const runtime = createRuntime({ service: 'dispute', schema: SCHEMA, config, logger: overrides.logger });
  const db = createDisputeDatabase(runtime.db);
  const metrics = createArbitrationMetrics();
  registerArbitrationMetrics(runtime.registry, metrics, db);
  const deps: DisputeDeps = {
    db,
    keyring: keyringFromConfig(config),
    metrics,
    evidenceWindowMs: Math.round(config.EVIDENCE_WINDOW_HOURS * MS_PER_HOUR),
    assignmentTimeoutMs: Math.round(config.DISPUTE_ASSIGNMENT_TIMEOUT_MINUTES * MS_PER_MINUTE),
  };
  runtime.consume(disputeHandlers(deps), { transaction: (body, options) => db.transaction(body, options) });
  runtime.sweepers.push(
    ...disputeTimerSweepers(deps, {
      intervalMs: config.TIMER_SWEEP_MS,
      logger: runtime.logger,
      registry: runtime.registry,
    }),
  );
  return {
    runtime,
    deps,
    async start() {
      runtime.start();
    },
    async close() {
      await runtime.close();
      await db.close();
    },
  };
}
