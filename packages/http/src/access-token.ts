import { createHash, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { unauthorized } from './errors';
import { ROLES, type Role } from './identity';
import { secretKey } from './secret-key';

/** Signing keys by key id. The active one signs; every listed one verifies, so keys rotate without logouts. */
export interface Keyring {
  activeKid: string;
  secrets: Record<string, string>;
}

export interface AccessTokenSettings {
  keyring: Keyring;
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

/** Whom a token is for: the user, the roles it carries, and the session it belongs to. */
export interface AccessSubject {
  userId: string;
  roles: Role[];
  /** The session (refresh-token family) that issued the token: logging out of it ends the token too. */
  sessionId: string;
  /** The user's token generation when the token was issued: a role change or a disable bumps it. */
  generation: number;
}

export interface AccessClaims extends AccessSubject {
  jti: string;
  issuedAt: number;
  expiresAt: number;
}

/**
 * Redis keys the user service writes and the gateway reads, so both agree on one spelling. Both revocation
 * records outlive every access token they can concern (see REVOCATION_TTL_MARGIN_SECONDS), then expire.
 * - `minGeneration`: the user's access tokens whose `gen` is below the stored number are refused (role
 *   change, disabled account). A counter bumped in the transaction that changes the roles, never a clock: a
 *   token signed in the same millisecond, on another replica, or by a login that read the old roles, carries
 *   the old generation and is refused all the same.
 * - `revokedSession`: every access token of this session (`sid`, the refresh-token family) is refused
 *   (logout, refresh-token reuse).
 * - `apiKey`: the gateway's brief cache of an API key's resolution; the user service deletes it when the key
 *   is revoked or its owner's roles or status change.
 * - `apiKeyForgotten`: a mark the user service writes beside that delete, new each time (see API_KEY_FORGET).
 */
export const authRedisKeys = {
  minGeneration: (prefix: string, userId: string) => `${prefix}:auth:min-generation:${userId}`,
  revokedSession: (prefix: string, sessionId: string) => `${prefix}:auth:revoked-session:${sessionId}`,
  apiKey: (prefix: string, keyHash: string) => `${prefix}:auth:api-key:${keyHash}`,
  apiKeyForgotten: (prefix: string, keyHash: string) => `${prefix}:auth:api-key-forgotten:${keyHash}`,
};

/**
 * How an API key's cached resolution is dropped and written, so that a resolution read before a revocation is never
 * cached after it. The gateway reads the key's `apiKeyForgotten` mark, asks the user service, and writes the answer
 * only if the mark is still the one it read (API_KEY_CACHE); the user service, after committing the change, replaces
 * the mark with a new value and deletes the entry in one step (API_KEY_FORGET). Whichever order the two reach Redis
 * in, no stale answer stays: a write before the forget is deleted by it, a write after it finds a new mark and is
 * refused (the gateway then asks again). A plain delete let a gateway that asked just before the revocation write
 * the old answer after it, and the revoked key worked until that entry expired.
 *
 * The mark is a random value, never a counter: a counter that expired and started again could come back to the value
 * a gateway read. It outlives any resolution in flight (the gateway's call has a timeout of seconds).
 */
const API_KEY_FORGOTTEN_TTL_SECONDS = 60;
/** KEYS: the entry, the mark. ARGV: the mark as read before asking ('' for none), the answer, its expiry in s. */
export const API_KEY_CACHE = `
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1`;
/** KEYS: pairs of entry and mark. ARGV: a new mark, its expiry in s. */
export const API_KEY_FORGET = `
for i = 1, #KEYS, 2 do
  redis.call('DEL', KEYS[i])
  redis.call('SET', KEYS[i + 1], ARGV[1], 'EX', ARGV[2])
end
return #KEYS / 2`;

/** The arguments of API_KEY_FORGET for these keys: for `redis.eval(API_KEY_FORGET, ...forgetApiKeysArgs(…))`. */
export function forgetApiKeysArgs(prefix: string, keyHashes: string[]): [number, ...string[]] {
  const keys = keyHashes.flatMap((hash) => [
    authRedisKeys.apiKey(prefix, hash),
    authRedisKeys.apiKeyForgotten(prefix, hash),
  ]);
  return [keys.length, ...keys, randomUUID(), String(API_KEY_FORGOTTEN_TTL_SECONDS)];
}

/**
 * The longest a gateway answers revocation lookups from memory on the strength of one answered PING (the gateway's
 * TrackedCache, `REVOCATION_LEASE_MS`): a PING on the invalidation subscriber sent at most this long before a lookup,
 * and answered, proves that every invalidation Redis sent before it was applied. Without it every authenticated
 * request waited for a PING of its own (a Redis round trip, ~0.2 ms of CPU on these machines).
 */
export const REVOCATION_LEASE_MS_MAX = 100;
/**
 * How long the user service waits after writing a revocation before it answers (and before anyone can act on its
 * answer): longer than any gateway's lease, so a request that comes after is checked against a PING sent after the
 * write, whose pong follows the write's invalidation. The margin covers clocks running apart over that time.
 */
export const REVOCATION_SETTLE_MS = REVOCATION_LEASE_MS_MAX + 50;

/** Revocation records live this much longer than an access token, for tokens signed just after they were written. */
export const REVOCATION_TTL_MARGIN_SECONDS = 60;

/** API keys are stored and cached by this hash only. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

const ALGORITHM = 'HS256';
/** Session ids are refresh-token family ids (UUIDs); anything else never names a session. */
const SESSION_ID = /^[0-9A-Za-z-]{1,64}$/;
const SECRET_LENGTH_MIN = 32;

/** Parses `kid1:secret1,kid2:secret2`; the first entry is active unless `activeKid` names another. */
export function parseKeyring(spec: string, activeKid?: string): Keyring {
  const secrets: Record<string, string> = {};
  for (const entry of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const separator = entry.indexOf(':');
    const kid = entry.slice(0, separator);
    const secret = entry.slice(separator + 1);
    if (separator <= 0 || !/^[A-Za-z0-9_-]{1,32}$/.test(kid))
      throw new Error('JWT keyring entries look like kid:secret');
    if (secret.length < SECRET_LENGTH_MIN)
      throw new Error(`JWT secret "${kid}" must be at least ${SECRET_LENGTH_MIN} characters`);
    secrets[kid] = secret;
  }
  const active = activeKid || Object.keys(secrets)[0];
  if (!active || !secrets[active]) throw new Error('the active JWT key id is not in the keyring');
  return { activeKid: active, secrets };
}

export function signAccessToken(subject: AccessSubject, settings: AccessTokenSettings): { token: string; jti: string } {
  const jti = randomUUID();
  const secret = settings.keyring.secrets[settings.keyring.activeKid]!;
  const token = jwt.sign({ roles: subject.roles, sid: subject.sessionId, gen: subject.generation }, secretKey(secret), {
    algorithm: ALGORITHM,
    keyid: settings.keyring.activeKid,
    subject: subject.userId,
    issuer: settings.issuer,
    audience: settings.audience,
    expiresIn: settings.ttlSeconds,
    jwtid: jti,
  });
  return { token, jti };
}

/**
 * Verifies an access token with the algorithm pinned (no `none`, no RS/HS confusion), the key chosen by
 * `kid` from our own keyring, and `exp`, `iss`, `aud` checked. Any failure is the same 401.
 */
export function verifyAccessToken(token: string, settings: Omit<AccessTokenSettings, 'ttlSeconds'>): AccessClaims {
  const invalid = () => unauthorized('The access token is invalid or expired.', 'AUTH.INVALID_TOKEN');
  const decoded = jwt.decode(token, { complete: true });
  const kid = decoded?.header.kid;
  const secret =
    typeof kid === 'string' && Object.hasOwn(settings.keyring.secrets, kid) ? settings.keyring.secrets[kid] : undefined;
  if (!secret || decoded?.header.alg !== ALGORITHM) throw invalid();
  let claims: jwt.JwtPayload;
  try {
    claims = jwt.verify(token, secretKey(secret), {
      algorithms: [ALGORITHM],
      issuer: settings.issuer,
      audience: settings.audience,
    }) as jwt.JwtPayload;
  } catch {
    throw invalid();
  }
  const { roles, sid, gen } = claims;
  if (
    typeof claims.sub !== 'string' ||
    typeof claims.jti !== 'string' ||
    typeof claims.exp !== 'number' ||
    typeof claims.iat !== 'number' ||
    !Array.isArray(roles) ||
    !roles.every((r) => (ROLES as readonly string[]).includes(r))
  ) {
    throw invalid();
  }
  // A token without its session or generation could not be revoked: refused (the client refreshes).
  if (typeof sid !== 'string' || !SESSION_ID.test(sid) || !Number.isSafeInteger(gen) || (gen as number) < 0)
    throw invalid();
  return {
    userId: claims.sub,
    roles: roles as Role[],
    sessionId: sid,
    generation: gen as number,
    jti: claims.jti,
    issuedAt: claims.iat,
    expiresAt: claims.exp,
  };
}
