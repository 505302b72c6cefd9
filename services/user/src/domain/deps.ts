import type { Redis } from 'ioredis';
import type { Database } from '@orrange/db';
import { authRedisKeys, parseKeyring, type AccessTokenSettings } from '@orrange/http';
import type { Logger } from '@orrange/logger';
import type { Config } from '../config';
import { parseEncryptionKeyring, type EncryptionKeyring } from './encryption';
import { PasswordHasher } from './password-hasher';

/** What the use cases need, built once from config (index.ts, or tests on their own database and Redis). */
export interface Deps {
  db: Database;
  redis: Redis;
  logger: Logger;
  config: Config;
  hasher: PasswordHasher;
  accessTokens: AccessTokenSettings;
  encryption: EncryptionKeyring;
}

export function buildDeps(parts: { db: Database; redis: Redis; logger: Logger; config: Config; hasher?: PasswordHasher }): Deps {
  const { config } = parts;
  return {
    ...parts,
    hasher: parts.hasher ?? new PasswordHasher({ concurrencyMax: config.LOGIN_CONCURRENCY_MAX, waitingMax: config.LOGIN_QUEUE_MAX }),
    accessTokens: {
      keyring: parseKeyring(config.JWT_SECRETS, config.JWT_ACTIVE_KID),
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      ttlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
    },
    encryption: parseEncryptionKeyring(config.ENCRYPTION_KEYS, config.ENCRYPTION_ACTIVE_KID),
  };
}

/**
 * Tells the gateway to refuse this user's access tokens issued before now (role change, stolen refresh
 * token, disabled account). The key lives as long as an access token can, then it is no longer needed.
 */
export async function refuseAccessTokensIssuedBefore(deps: Pick<Deps, 'redis' | 'config'>, userId: string): Promise<void> {
  const nowSeconds = Math.floor(Date.now() / 1000);
  await deps.redis.set(authRedisKeys.notBefore(deps.config.REDIS_PREFIX, userId), String(nowSeconds), 'EX', Math.max(1, deps.config.ACCESS_TOKEN_TTL_SECONDS));
}
