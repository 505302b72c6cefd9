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

export interface AccessClaims {
  userId: string;
  roles: Role[];
  jti: string;
  issuedAt: number;
  expiresAt: number;
}

/**
 * Redis keys the user service writes and the gateway reads, so both agree on one spelling.
 * `notBefore`: access tokens of this user issued before the stored unix second are refused (disable,
 * role change, "log out everywhere"); it expires with the access-token TTL. `apiKey`: the gateway's brief
 * cache of an API key's resolution; the user service deletes it on revoke.
 */
export const authRedisKeys = {
  notBefore: (prefix: string, userId: string) => `${prefix}:auth:not-before:${userId}`,
  apiKey: (prefix: string, keyHash: string) => `${prefix}:auth:api-key:${keyHash}`,
};

/** API keys are stored and cached by this hash only. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

const ALGORITHM = 'HS256';
const SECRET_LENGTH_MIN = 32;

/** Parses `kid1:secret1,kid2:secret2`; the first entry is active unless `activeKid` names another. */
export function parseKeyring(spec: string, activeKid?: string): Keyring {
  const secrets: Record<string, string> = {};
  for (const entry of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const separator = entry.indexOf(':');
    const kid = entry.slice(0, separator);
    const secret = entry.slice(separator + 1);
    if (separator <= 0 || !/^[A-Za-z0-9_-]{1,32}$/.test(kid)) throw new Error('JWT keyring entries look like kid:secret');
    if (secret.length < SECRET_LENGTH_MIN) throw new Error(`JWT secret "${kid}" must be at least ${SECRET_LENGTH_MIN} characters`);
    secrets[kid] = secret;
  }
  const active = activeKid || Object.keys(secrets)[0];
  if (!active || !secrets[active]) throw new Error('the active JWT key id is not in the keyring');
  return { activeKid: active, secrets };
}

export function signAccessToken(subject: { userId: string; roles: Role[] }, settings: AccessTokenSettings): { token: string; jti: string } {
  const jti = randomUUID();
  const secret = settings.keyring.secrets[settings.keyring.activeKid]!;
  const token = jwt.sign({ roles: subject.roles }, secretKey(secret), {
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
  const secret = typeof kid === 'string' && Object.hasOwn(settings.keyring.secrets, kid) ? settings.keyring.secrets[kid] : undefined;
  if (!secret || decoded?.header.alg !== ALGORITHM) throw invalid();
  let claims: jwt.JwtPayload;
  try {
    claims = jwt.verify(token, secretKey(secret), { algorithms: [ALGORITHM], issuer: settings.issuer, audience: settings.audience }) as jwt.JwtPayload;
  } catch {
    throw invalid();
  }
  const roles = claims.roles;
  if (typeof claims.sub !== 'string' || typeof claims.jti !== 'string' || typeof claims.exp !== 'number' || typeof claims.iat !== 'number' || !Array.isArray(roles) || !roles.every((r) => (ROLES as readonly string[]).includes(r))) {
    throw invalid();
  }
  return { userId: claims.sub, roles: roles as Role[], jti: claims.jti, issuedAt: claims.iat, expiresAt: claims.exp };
}
