import type { Logger } from '@orrange/logger';
import { createRuntime, type Runtime } from '@orrange/runtime';
import { keyringFromConfig } from '@orrange/secrets';
import { SCHEMA, type Config } from './config';
import type { DisputeDeps } from './domain/dispute.use-cases';
import { createArbitrationMetrics, registerArbitrationMetrics } from './messaging/arbitration.metrics';
import { disputeHandlers } from './messaging/dispute.handlers';
import { disputeTimerSweepers } from './messaging/timer-sweepers';

export interface DisputeService {
  runtime: Runtime;
  deps: DisputeDeps;
}

const MS_PER_HOUR = 3_600_000;
const MS_PER_MINUTE = 60_000;

/**
 * Builds the runtime with the service's event handlers, its arbitration metrics and its timer sweepers (started and
 * stopped with the runtime); index.ts and the test harness both come through here, so tests run the same wiring as
 * production.
 */
export function createDisputeService(config: Config, options: { logger?: Logger } = {}): DisputeService {
  const eventDeps = {
    metrics: createArbitrationMetrics(),
    evidenceWindowMs: Math.round(config.EVIDENCE_WINDOW_HOURS * MS_PER_HOUR),
    assignmentTimeoutMs: Math.round(config.DISPUTE_ASSIGNMENT_TIMEOUT_MINUTES * MS_PER_MINUTE),
  };
  const runtime = createRuntime({ service: 'dispute', schema: SCHEMA, config, handlers: disputeHandlers(eventDeps), logger: options.logger });
  registerArbitrationMetrics(runtime.registry, eventDeps.metrics, runtime.db);
  const deps = { ...eventDeps, db: runtime.db, keyring: keyringFromConfig(config) };
  runtime.sweepers.push(...disputeTimerSweepers(deps, { intervalMs: config.TIMER_SWEEP_MS, logger: runtime.logger, registry: runtime.registry }));
  return { runtime, deps };
}
