import type { Logger } from '@orrange/logger';
import { purgeRefreshTokens } from '../data/refresh-tokens.repository';
import type { UserDatabase } from '../data/prisma';

const PURGE_INTERVAL_MS = 60 * 60 * 1000;
const PURGE_BATCH_MAX = 10_000;
const PURGE_BATCHES_MAX = 10;

/** Removes dead refresh tokens once, in bounded batches. */
export async function purgeOnce(store: UserDatabase, logger: Logger): Promise<number> {
  let purged = 0;
  for (let batch = 0; batch < PURGE_BATCHES_MAX; batch += 1) {
    const n = await store.query((db) => purgeRefreshTokens(db, PURGE_BATCH_MAX));
    purged += n;
    if (n < PURGE_BATCH_MAX) break;
  }
  if (purged > 0) logger.info('purged dead refresh tokens', { purged });
  return purged;
}

/** Hourly purge in the background; returns the function that stops it (for graceful shutdown). */
export function startHousekeeping(store: UserDatabase, logger: Logger): () => Promise<void> {
  const timer = setInterval(() => {
    purgeOnce(store, logger).catch((error: Error) =>
      logger.warn('refresh-token purge failed', { error: error.message }),
    );
  }, PURGE_INTERVAL_MS);
  timer.unref();
  return async () => clearInterval(timer);
}
