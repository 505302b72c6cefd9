import type { Role } from '@orrange/http';
import type { StatsRow } from '../domain/reputation';
import type { Prisma } from '../generated/prisma/client';
import type { UserClient } from './prisma';

export type UserStatus = 'ACTIVE' | 'DISABLED';

export interface UserRecord {
  id: string;
  email: string;
  username: string;
  roles: Role[];
  status: UserStatus;
  /** Access tokens carry it; a role change or a disable bumps it (see authRedisKeys.minGeneration). */
  tokenGeneration: number;
  createdAt: Date;
}

export interface Profile {
  displayName: string | null;
  country: string | null;
  bio: string | null;
}

export interface UserWithProfile extends UserRecord {
  profile: Profile;
  stats: StatsRow | undefined;
}

const USER_FIELDS = {
  id: true,
  email: true,
  username: true,
  roles: true,
  status: true,
  tokenGeneration: true,
  createdAt: true,
} satisfies Prisma.UserSelect;

const PROFILE_FIELDS = { displayName: true, country: true, bio: true } satisfies Prisma.UserSelect;

/** The days the recent completion rate counts, today (UTC) included. */
const RECENT_DAYS = 30;

/** Roles and status are text columns whose CHECK constraints allow exactly these values (migration `accounts`). */
function toUserRecord(row: Prisma.UserGetPayload<{ select: typeof USER_FIELDS }>): UserRecord {
  return { ...row, roles: row.roles as Role[], status: row.status as UserStatus };
}

export async function insertUser(
  db: UserClient,
  user: { email: string; username: string; passwordHash: string; roles?: Role[] },
): Promise<UserRecord> {
  const row = await db.user.create({
    data: {
      email: user.email,
      username: user.username,
      // The unique key that makes usernames case-insensitive (a CHECK holds it to lower(username)).
      usernameKey: user.username.toLowerCase(),
      passwordHash: user.passwordHash,
      roles: user.roles ?? ['user'],
    },
    select: USER_FIELDS,
  });
  return toUserRecord(row);
}

/**
 * insertUser, unless the email or the username is taken (then undefined, and nothing written): for the admin seed,
 * which must never take over an account someone registered meanwhile.
 */
export async function insertUserIfFree(
  db: UserClient,
  user: { email: string; username: string; passwordHash: string; roles: Role[] },
): Promise<UserRecord | undefined> {
  const [row] = await db.user.createManyAndReturn({
    data: [{ ...user, usernameKey: user.username.toLowerCase() }],
    skipDuplicates: true,
    select: USER_FIELDS,
  });
  return row ? toUserRecord(row) : undefined;
}

export async function findUserByEmail(db: UserClient, email: string): Promise<UserRecord | undefined> {
  const row = await db.user.findUnique({ where: { email }, select: USER_FIELDS });
  return row ? toUserRecord(row) : undefined;
}

/**
 * Locks the user's row until the transaction ends: what a per-user count (API keys, payment methods) is checked and
 * written under, so that two concurrent additions cannot both pass the limit, and what a role or status change
 * reads its "before" under. SQL: Prisma has no SELECT … FOR UPDATE. Says whether the user exists.
 */
export async function lockUser(tx: UserClient, id: string): Promise<boolean> {
  const rows = await tx.$queryRaw<unknown[]>`SELECT 1 FROM users WHERE id = ${id}::uuid FOR UPDATE`;
  return rows.length > 0;
}

/** The account with its profile and reputation counters (three reads: the account, its counters, its recent days). */
export async function findUserWithProfile(db: UserClient, id: string): Promise<UserWithProfile | undefined> {
  const user = await db.user.findUnique({ where: { id }, select: { ...USER_FIELDS, ...PROFILE_FIELDS } });
  if (!user) return undefined;
  const stats = await db.userStats.findUnique({ where: { userId: id } });
  const recent = stats
    ? await db.userTradeDay.aggregate({
        where: { userId: id, day: { gt: utcDaysAgo(RECENT_DAYS) } },
        _sum: { completed: true, cancelled: true },
      })
    : undefined;
  const { displayName, country, bio, ...account } = user;
  return {
    ...toUserRecord(account),
    profile: { displayName, country, bio },
    stats:
      stats && recent
        ? {
            tradesCompleted: stats.tradesCompleted,
            tradesCancelled: stats.tradesCancelled,
            disputesLost: stats.disputesLost,
            feedbackPositive: stats.feedbackPositive,
            feedbackNegative: stats.feedbackNegative,
            distinctCounterparties: stats.distinctCounterparties,
            // Sums of whole seconds: exact as numbers for 285 million years of trading.
            paySecondsSum: Number(stats.paySecondsSum),
            paysCounted: stats.paysCounted,
            releaseSecondsSum: Number(stats.releaseSecondsSum),
            releasesCounted: stats.releasesCounted,
            completed30d: recent._sum.completed ?? 0,
            cancelled30d: recent._sum.cancelled ?? 0,
          }
        : undefined,
  };
}

/** Midnight UTC `days` days before today: the trade days after it are the recent ones (stats.repository writes UTC days). */
function utcDaysAgo(days: number, now = new Date()): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - days));
}

/** Sets only the fields present in `patch` (null clears one). Returns the profile, or undefined if no such user. */
export async function updateProfile(db: UserClient, id: string, patch: Partial<Profile>): Promise<Profile | undefined> {
  const data: Prisma.UserUpdateManyMutationInput = { updatedAt: new Date() };
  for (const field of ['displayName', 'country', 'bio'] as const)
    if (Object.hasOwn(patch, field)) data[field] = patch[field] ?? null;
  const [row] = await db.user.updateManyAndReturn({ where: { id }, data, select: PROFILE_FIELDS });
  return row;
}

/**
 * Sets the roles and bumps the token generation, so tokens carrying the old roles can be refused. Runs in a
 * transaction: the row is locked before the old roles are read.
 */
export async function setRoles(
  tx: UserClient,
  id: string,
  roles: Role[],
): Promise<{ before: Role[]; after: Role[]; tokenGeneration: number } | undefined> {
  if (!(await lockUser(tx, id))) return undefined;
  const before = await tx.user.findUniqueOrThrow({ where: { id }, select: { roles: true } });
  const after = await tx.user.update({
    where: { id },
    data: { roles, tokenGeneration: { increment: 1 }, updatedAt: new Date() },
    select: { roles: true, tokenGeneration: true },
  });
  return { before: before.roles as Role[], after: after.roles as Role[], tokenGeneration: after.tokenGeneration };
}

/**
 * Sets the status; disabling bumps the token generation, so every access token issued so far can be refused. Runs
 * in a transaction: the row is locked before the old status is read.
 */
export async function setStatus(
  tx: UserClient,
  id: string,
  status: UserStatus,
): Promise<{ before: UserStatus; after: UserStatus; tokenGeneration: number } | undefined> {
  if (!(await lockUser(tx, id))) return undefined;
  const before = await tx.user.findUniqueOrThrow({ where: { id }, select: { status: true } });
  const after = await tx.user.update({
    where: { id },
    data: { status, tokenGeneration: { increment: status === 'DISABLED' ? 1 : 0 }, updatedAt: new Date() },
    select: { tokenGeneration: true },
  });
  return { before: before.status as UserStatus, after: status, tokenGeneration: after.tokenGeneration };
}
