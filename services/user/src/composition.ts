import type { Logger } from '@orrange/logger';
import { createRuntime, Sweeper, type Service } from '@orrange/runtime';
import { SCHEMA, type Config } from './config';
import { purgeAuditLog } from './data/audit.repository';
import { createUserDatabase, type UserDatabase } from './data/prisma';
import { auditHandlers } from './messaging/audit.handlers';
import { startHousekeeping } from './messaging/housekeeping';
import { reputationHandlers } from './messaging/reputation.handlers';

/** How often the audit log is looked at for rows past AUDIT_LOG_RETENTION_DAYS (a full batch runs again at once). */
const AUDIT_RETENTION_SWEEP_MS = 60 * 60_000;

export interface UserService extends Service {
  /** The service's data through its Prisma client, over the runtime's pools. */
  store: UserDatabase;
}

/**
 * The user service: its runtime consuming every event it takes (reputation, withdrawal audit), and the hourly purge
 * of dead refresh tokens (and, with AUDIT_LOG_RETENTION_DAYS, of old audit rows) while it runs. index.ts and the
 * test harness both build it here.
 */
export function createUserService(config: Config, overrides: { logger?: Logger } = {}): UserService {
  const runtime = createRuntime({ service: 'user', schema: SCHEMA, config, logger: overrides.logger });
  const store = createUserDatabase(runtime.db);
  // In the Database's pg transaction, not a Prisma one: measured, stats.repository.ts.
  runtime.consume({ ...reputationHandlers(runtime.logger, config.REPUTATION_MIN_FIAT), ...auditHandlers() });
  const days = config.AUDIT_LOG_RETENTION_DAYS;
  if (days > 0)
    runtime.sweepers.push(
      new Sweeper({
        timer: 'audit-log-retention',
        intervalMs: AUDIT_RETENTION_SWEEP_MS,
        sweep: () => store.query((db) => purgeAuditLog(db, days)),
        logger: runtime.logger,
      }),
    );
  let stopHousekeeping: (() => Promise<void>) | undefined;
  return {
    runtime,
    store,
    async start() {
      runtime.start();
      stopHousekeeping ??= startHousekeeping(store, runtime.logger);
    },
    async close() {
      await stopHousekeeping?.();
      await runtime.close();
      await store.close();
    },
  };
}
