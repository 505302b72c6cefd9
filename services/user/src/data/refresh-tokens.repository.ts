import type { Statement } from '@orrange/db';
import type { Role } from '@orrange/http';
import type { UserClient } from './prisma';
import type { UserStatus } from './users.repository';

export interface RotatedToken {
  familyId: string;
  userId: string;
  roles: Role[];
  status: UserStatus;
  tokenGeneration: number;
}

export interface StoredToken {
  familyId: string;
  userId: string;
  rotatedAt: Date | null;
  revokedAt: Date | null;
}

/** A refresh token to store: only its hash, in its family (the session), valid for ttlDays from now. */
export interface NewRefreshToken {
  id: string;
  familyId: string;
  userId: string;
  tokenHash: string;
  ttlDays: number;
}

const MS_PER_DAY = 86_400_000;

function refreshTokenRow({ ttlDays, ...token }: NewRefreshToken) {
  return { ...token, expiresAt: new Date(Date.now() + ttlDays * MS_PER_DAY) };
}

export async function insertRefreshToken(tx: UserClient, token: NewRefreshToken): Promise<void> {
  await tx.refreshToken.create({ data: refreshTokenRow(token), select: { id: true } });
}

/** insertRefreshToken as a statement for a pg transaction (login.repository.ts, measured). */
export function refreshTokenInsert(token: NewRefreshToken): Statement {
  const row = refreshTokenRow(token);
  return {
    sql: 'INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at) VALUES ($1, $2, $3, $4, $5)',
    params: [row.id, row.familyId, row.userId, row.tokenHash, row.expiresAt],
  };
}

/**
 * Marks a live token rotated, race-safely: of two requests presenting the same token, exactly one updates its row
 * (the other waits for the row lock, then finds it rotated). Returns its family and the owner's current roles and
 * status, or undefined when the token is unknown, already rotated, revoked or expired.
 */
export async function rotateRefreshToken(tx: UserClient, tokenHash: string): Promise<RotatedToken | undefined> {
  const now = new Date();
  const [token] = await tx.refreshToken.updateManyAndReturn({
    where: { tokenHash, rotatedAt: null, revokedAt: null, expiresAt: { gt: now } },
    data: { rotatedAt: now },
    select: { familyId: true, userId: true },
  });
  if (!token) return undefined;
  const owner = await tx.user.findUnique({
    where: { id: token.userId },
    select: { roles: true, status: true, tokenGeneration: true },
  });
  if (!owner) return undefined;
  return {
    ...token,
    roles: owner.roles as Role[],
    status: owner.status as UserStatus,
    tokenGeneration: owner.tokenGeneration,
  };
}

export async function findRefreshToken(tx: UserClient, tokenHash: string): Promise<StoredToken | undefined> {
  const row = await tx.refreshToken.findUnique({
    where: { tokenHash },
    select: { familyId: true, userId: true, rotatedAt: true, revokedAt: true },
  });
  return row ?? undefined;
}

/** Revokes every token of a family; returns how many were still live. */
export async function revokeFamily(tx: UserClient, familyId: string): Promise<number> {
  const { count } = await tx.refreshToken.updateMany({
    where: { familyId, revokedAt: null },
    data: { revokedAt: new Date() },
  });
  return count;
}

/** Ends every session of a user (account disabled); returns the families (session ids) that were still live. */
export async function revokeAllForUser(tx: UserClient, userId: string): Promise<string[]> {
  const rows = await tx.refreshToken.updateManyAndReturn({
    where: { userId, revokedAt: null },
    data: { revokedAt: new Date() },
    select: { familyId: true },
  });
  return [...new Set(rows.map((row) => row.familyId))];
}

/**
 * Deletes tokens that can no longer matter (expired, or revoked, for more than a day), at most `batchMax` rows of
 * every user. SQL: the function `purge_refresh_tokens` (migration `private_credentials`), since row-level security
 * shows the service's role one user's tokens at a time and this is the one write across all of them.
 */
export async function purgeRefreshTokens(db: UserClient, batchMax: number): Promise<number> {
  const [row] = await db.$queryRaw<Array<{ purged: number }>>`SELECT purge_refresh_tokens(${batchMax}::int) AS purged`;
  return row?.purged ?? 0;
}
