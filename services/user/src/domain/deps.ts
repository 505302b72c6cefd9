import type { Redis } from 'ioredis';
import type { Database } from '@orrange/db';
import {
  API_KEY_FORGET,
  authRedisKeys,
  forgetApiKeysArgs,
  parseKeyring,
  REVOCATION_SETTLE_MS,
  REVOCATION_TTL_MARGIN_SECONDS,
  type AccessTokenSettings,
} from '@orrange/http';
import type { Logger } from '@orrange/logger';
import { keyringFromConfig, type EncryptionKeyring } from '@orrange/secrets';
import type { Config } from '../config';
import type { UserDatabase } from '../data/prisma';
import { PasswordHasher } from './password-hasher';

/** What the use cases need, built once from config (index.ts, or tests on their own database and Redis). */
export interface Deps {
  /** The service's own data, through its Prisma client (PrismaDatabase over the runtime's pools). */
  store: UserDatabase;
  /** The pool manager itself, for SQL: packages/http's Idempotency-Keys, and the measured API-key resolution and login. */
  db: Database;
  redis: Redis;
  logger: Logger;
  config: Config;
  hasher: PasswordHasher;
  accessTokens: AccessTokenSettings;
  encryption: EncryptionKeyring;
}

export function buildDeps(parts: {
  store: UserDatabase;
  db: Database;
  redis: Redis;
  logger: Logger;
  config: Config;
  hasher?: PasswordHasher;
}): Deps {
  const { config } = parts;
  return {
    ...parts,
    hasher:
      parts.hasher ??
      new PasswordHasher({ concurrencyMax: config.LOGIN_CONCURRENCY_MAX, waitingMax: config.LOGIN_QUEUE_MAX }),
    accessTokens: {
      keyring: parseKeyring(config.JWT_SECRETS, config.JWT_ACTIVE_KID),
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      ttlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
    },
    encryption: keyringFromConfig(config),
  };
}

/** How long a revocation record must live: as long as any access token it concerns, plus a margin. */
function revocationTtlSeconds(config: Config): number {
  return Math.max(1, config.ACCESS_TOKEN_TTL_SECONDS) + REVOCATION_TTL_MARGIN_SECONDS;
}

/** Sets the key to the larger of its value and ARGV[1] (two racing changes never lower it), with a fresh TTL. */
const RAISE_SCRIPT = `
local current = tonumber(redis.call('GET', KEYS[1]) or '-1') or -1
local wanted = tonumber(ARGV[1])
if wanted > current then current = wanted end
redis.call('SET', KEYS[1], current, 'EX', ARGV[2])
return current`;

/**
 * Tells every gateway replica to refuse this user's access tokens of generations below `generation` (role
 * change, disabled account): the generation was bumped in the transaction that made the change, so every
 * token signed before it, or signed after it from roles read before it, carries a lower one. Resolves once every
 * gateway refuses them (see settled).
 */
export async function refuseGenerationsBelow(
  deps: Pick<Deps, 'redis' | 'config'>,
  userId: string,
  generation: number,
): Promise<void> {
  await deps.redis.eval(
    RAISE_SCRIPT,
    1,
    authRedisKeys.minGeneration(deps.config.REDIS_PREFIX, userId),
    String(generation),
    String(revocationTtlSeconds(deps.config)),
  );
  await settled();
}

/**
 * Tells every gateway replica to refuse the access tokens of these sessions (logout, refresh-token reuse). Resolves
 * once every gateway refuses them (see settled).
 */
export async function endSessions(deps: Pick<Deps, 'redis' | 'config'>, sessionIds: string[]): Promise<void> {
  if (!sessionIds.length) return;
  const ttl = revocationTtlSeconds(deps.config);
  const batch = deps.redis.multi();
  for (const sessionId of sessionIds)
    batch.set(authRedisKeys.revokedSession(deps.config.REDIS_PREFIX, sessionId), '1', 'EX', ttl);
  await batch.exec();
  await settled();
}

/**
 * Drops the gateway's cached resolutions of these API keys (revoked, or their owner's roles or status changed): the
 * next request resolves them again, with today's answer, and a resolution already in flight is not cached
 * (API_KEY_FORGET). Called after the change committed. Resolves once every gateway sees the drop: the gateways
 * read these entries through their tracked cache too (see settled).
 */
export async function forgetApiKeyResolutions(
  deps: Pick<Deps, 'redis' | 'config'>,
  keyHashes: string[],
): Promise<void> {
  if (!keyHashes.length) return;
  await deps.redis.eval(API_KEY_FORGET, ...forgetApiKeysArgs(deps.config.REDIS_PREFIX, keyHashes));
  await settled();
}

/**
 * A gateway answers revocation lookups from memory for up to REVOCATION_LEASE_MS_MAX after a PING that proved it had
 * every invalidation Redis sent before (its TrackedCache): once REVOCATION_SETTLE_MS have passed since the write, any
 * request that comes is checked against a PING sent after it. So the answer that says "revoked" waits that long.
 */
function settled(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, REVOCATION_SETTLE_MS));
}
