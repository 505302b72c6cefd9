import { randomUUID } from 'node:crypto';
import { conflict, signAccessToken, unauthorized, type Role } from '@orrange/http';
import { actAs, actAsTokenOwner } from '../data/acting-user';
import { insertAudit, insertAuditSql, type AuditContext } from '../data/audit.repository';
import { findCredentialsByEmail, recordLogin } from '../data/login.repository';
import {
  findRefreshToken,
  insertRefreshToken,
  type NewRefreshToken,
  revokeFamily,
  rotateRefreshToken,
} from '../data/refresh-tokens.repository';
import { uniqueViolation } from '../data/sql';
import { insertUser, type UserRecord } from '../data/users.repository';
import { endSessions, type Deps } from './deps';
import { hashRefreshToken, newRefreshToken } from './secrets';

export interface PublicUser {
  id: string;
  email: string;
  username: string;
  roles: Role[];
  createdAt: Date;
}

export interface Tokens {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
}

export type Session = { user: PublicUser } & Tokens;

const invalidCredentials = () => unauthorized('The email or password is wrong.', 'AUTH.INVALID_CREDENTIALS');
const invalidRefreshToken = () =>
  unauthorized('The refresh token is invalid, expired or revoked.', 'AUTH.INVALID_REFRESH_TOKEN');

export function publicUser(user: UserRecord): PublicUser {
  return { id: user.id, email: user.email, username: user.username, roles: user.roles, createdAt: user.createdAt };
}

/** Emails compare case-insensitively: they are stored lowercased, and the unique index does the rest. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export async function register(
  deps: Deps,
  input: { email: string; username: string; password: string },
  context: AuditContext,
): Promise<Session> {
  const passwordHash = await deps.hasher.hash(input.password);
  try {
    return await deps.store.transaction(async ({ client: tx }) => {
      const user = await insertUser(tx, { email: normalizeEmail(input.email), username: input.username, passwordHash });
      await actAs(tx, user.id);
      await insertAudit(
        tx,
        { ...context, actorId: user.id },
        { action: 'user.registered', targetId: user.id, metadata: { username: user.username } },
      );
      const { tokens, stored } = newSession(deps, user, randomUUID());
      await insertRefreshToken(tx, stored);
      return { user: publicUser(user), ...tokens };
    });
  } catch (error) {
    const columns = uniqueViolation(error);
    if (columns?.includes('email')) throw conflict('USER.ALREADY_EXISTS', 'An account with this email already exists.');
    if (columns?.includes('username_key')) throw conflict('USER.ALREADY_EXISTS', 'This username is taken.');
    throw error;
  }
}

/**
 * Every path runs exactly one argon2 verification (against a dummy hash for an unknown email), and every
 * failure (unknown email, wrong password, disabled account) is the same 401.
 */
export async function login(
  deps: Deps,
  input: { email: string; password: string },
  context: AuditContext,
): Promise<Session> {
  const email = normalizeEmail(input.email);
  const account = await findCredentialsByEmail(deps.db, email);
  const passwordOk = await deps.hasher.verifyOrDummy(account?.passwordHash ?? null, input.password);
  if (!account || !passwordOk || account.status !== 'ACTIVE') {
    const reason = !account ? 'unknown-email' : !passwordOk ? 'wrong-password' : 'disabled';
    await insertAuditSql(deps.db, context, {
      action: 'auth.login.failed',
      targetId: account?.id ?? null,
      metadata: { email, reason },
    });
    throw invalidCredentials();
  }
  const { tokens, stored } = newSession(deps, account, randomUUID());
  await recordLogin(deps.db, {
    userId: account.id,
    context: { ...context, actorId: account.id },
    audit: { action: 'auth.login.succeeded', targetId: account.id },
    refreshToken: stored,
  });
  return { user: publicUser(account), ...tokens };
}

/**
 * Rotates a refresh token. The conditional UPDATE lets exactly one of two racing requests rotate it; a
 * token presented again after its rotation means it was copied, so its whole family (the session) is
 * revoked, and the gateway told to refuse the session's access tokens at once.
 */
export async function refresh(deps: Deps, refreshToken: string, context: AuditContext): Promise<Tokens> {
  const tokenHash = hashRefreshToken(refreshToken);
  const rotated = await deps.store.transaction(async ({ client: tx }) => {
    await actAsTokenOwner(tx, tokenHash);
    const current = await rotateRefreshToken(tx, tokenHash);
    if (!current) return undefined;
    if (current.status !== 'ACTIVE') {
      await revokeFamily(tx, current.familyId);
      return undefined;
    }
    const { tokens, stored } = newSession(
      deps,
      { id: current.userId, roles: current.roles, tokenGeneration: current.tokenGeneration },
      current.familyId,
    );
    await insertRefreshToken(tx, stored);
    return tokens;
  });
  if (rotated) return rotated;

  const reused = await deps.store.transaction(async ({ client: tx }) => {
    await actAsTokenOwner(tx, tokenHash);
    const stored = await findRefreshToken(tx, tokenHash);
    if (!stored?.rotatedAt) return undefined;
    const revoked = await revokeFamily(tx, stored.familyId);
    await insertAudit(tx, context, {
      action: 'auth.refresh.reused',
      targetId: stored.userId,
      metadata: { familyId: stored.familyId, liveTokensRevoked: revoked },
    });
    return stored;
  });
  if (reused) await endSessions(deps, [reused.familyId]);
  throw invalidRefreshToken();
}

/**
 * Ends the session the token belongs to: its whole family, and (through the gateway) every access token the
 * session issued, at once. Unknown tokens are fine: the answer is the same.
 */
export async function logout(deps: Deps, refreshToken: string): Promise<void> {
  const tokenHash = hashRefreshToken(refreshToken);
  const familyId = await deps.store.transaction(async ({ client: tx }) => {
    await actAsTokenOwner(tx, tokenHash);
    const stored = await findRefreshToken(tx, tokenHash);
    if (stored) await revokeFamily(tx, stored.familyId);
    return stored?.familyId;
  });
  if (familyId) await endSessions(deps, [familyId]);
}

/**
 * A new refresh token in the family (the row the caller stores with the rest of its transaction) and an access token
 * that names the family (its session) and the user's generation.
 */
function newSession(
  deps: Deps,
  user: Pick<UserRecord, 'id' | 'roles' | 'tokenGeneration'>,
  familyId: string,
): { tokens: Tokens; stored: NewRefreshToken } {
  const refreshToken = newRefreshToken();
  const stored = {
    id: randomUUID(),
    familyId,
    userId: user.id,
    tokenHash: hashRefreshToken(refreshToken),
    ttlDays: deps.config.REFRESH_TOKEN_TTL_DAYS,
  };
  const { token } = signAccessToken(
    { userId: user.id, roles: user.roles, sessionId: familyId, generation: user.tokenGeneration },
    deps.accessTokens,
  );
  return {
    tokens: { accessToken: token, refreshToken, tokenType: 'Bearer', expiresIn: deps.accessTokens.ttlSeconds },
    stored,
  };
}
