import type { Logger } from '@orrange/logger';
import { createRuntime, type Service } from '@orrange/runtime';
import { SCHEMA, type Config } from './config';
import { auditHandlers } from './messaging/audit.handlers';
import { startHousekeeping } from './messaging/housekeeping';
import { reputationHandlers } from './messaging/reputation.handlers';

/**
 * The user service: its runtime consuming every event it takes (reputation, withdrawal audit), and the hourly purge
 * of dead refresh tokens while it runs. index.ts and the test harness both build it here.
 */
export function createUserService(config: Config, overrides: { logger?: Logger } = {}): Service {
  const runtime = createRuntime({ service: 'user', schema: SCHEMA, config, logger: overrides.logger });
  runtime.consume({ ...reputationHandlers(runtime.logger, config.REPUTATION_MIN_FIAT), ...auditHandlers() });
  let stopHousekeeping: (() => Promise<void>) | undefined;
  return {
    runtime,
    async start() {
      runtime.start();
      stopHousekeeping ??= startHousekeeping(runtime.db, runtime.logger);
    },
    async close() {
      await stopHousekeeping?.();
      await runtime.close();
    },
  };
}
