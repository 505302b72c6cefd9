import type { Role } from '@orrange/http';
import type { StatsRow } from '../domain/reputation';
import type { SqlRunner } from '@orrange/db';

export interface UserRecord {
  id: string;
  email: string;
  username: string;
  roles: Role[];
  status: 'ACTIVE' | 'DISABLED';
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

const USER_COLUMNS = `id, email, username, roles, status, token_generation AS "tokenGeneration", created_at AS "createdAt"`;

export async function insertUser(
  sql: SqlRunner,
  user: { email: string; username: string; passwordHash: string; roles?: Role[] },
): Promise<UserRecord> {
  const [row] = await sql.query<UserRecord>(
    `INSERT INTO users (email, username, username_key, password_hash, roles) VALUES ($1, $2, lower($2), $3, $4::text[]) RETURNING ${USER_COLUMNS}`,
    [user.email, user.username, user.passwordHash, user.roles ?? ['user']],
  );
  return row!;
}

export async function findCredentialsByEmail(
  sql: SqlRunner,
  email: string,
): Promise<(UserRecord & { passwordHash: string }) | undefined> {
  const [row] = await sql.query<UserRecord & { passwordHash: string }>(
    `SELECT ${USER_COLUMNS}, password_hash AS "passwordHash" FROM users WHERE email = $1`,
    [email],
  );
  return row;
}

export async function findUser(sql: SqlRunner, id: string): Promise<UserRecord | undefined> {
  const [row] = await sql.query<UserRecord>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [id]);
  return row;
}

interface ProfileRow extends UserRecord, Profile {
  tradesCompleted: number | null;
  tradesCancelled: number;
  disputesLost: number;
  feedbackPositive: number;
  feedbackNegative: number;
  distinctCounterparties: number;
  paySecondsSum: number;
  paysCounted: number;
  releaseSecondsSum: number;
  releasesCounted: number;
  completed30d: number;
  cancelled30d: number;
}

/**
 * Locks the user's row until the transaction ends: what a per-user count (API keys, payment methods) is checked and
 * written under, so that two concurrent additions cannot both pass the limit.
 */
export async function lockUser(sql: SqlRunner, id: string): Promise<void> {
  await sql.query('SELECT 1 FROM users WHERE id = $1 FOR UPDATE', [id]);
}

/** The account with its profile and reputation counters, in one round trip. */
export async function findUserWithProfile(sql: SqlRunner, id: string): Promise<UserWithProfile | undefined> {
  const [row] = await sql.query<ProfileRow>(
    `SELECT u.id, u.email, u.username, u.roles, u.status, u.token_generation AS "tokenGeneration", u.created_at AS "createdAt",
            u.display_name AS "displayName", u.country, u.bio,
            s.trades_completed AS "tradesCompleted", s.trades_cancelled AS "tradesCancelled", s.disputes_lost AS "disputesLost",
            s.feedback_positive AS "feedbackPositive", s.feedback_negative AS "feedbackNegative",
            s.distinct_counterparties AS "distinctCounterparties", s.pay_seconds_sum::float8 AS "paySecondsSum", s.pays_counted AS "paysCounted",
            s.release_seconds_sum::float8 AS "releaseSecondsSum", s.releases_counted AS "releasesCounted",
            d.completed::int AS "completed30d", d.cancelled::int AS "cancelled30d"
       FROM users u LEFT JOIN user_stats s ON s.user_id = u.id
       LEFT JOIN LATERAL (SELECT coalesce(sum(completed), 0) AS completed, coalesce(sum(cancelled), 0) AS cancelled FROM user_trade_days
                          WHERE user_id = u.id AND day > current_date - 30) d ON true
      WHERE u.id = $1`,
    [id],
  );
  if (!row) return undefined;
  return {
    id: row.id,
    email: row.email,
    username: row.username,
    roles: row.roles,
    status: row.status,
    tokenGeneration: row.tokenGeneration,
    createdAt: row.createdAt,
    profile: { displayName: row.displayName, country: row.country, bio: row.bio },
    stats:
      row.tradesCompleted === null
        ? undefined
        : {
            tradesCompleted: row.tradesCompleted,
            tradesCancelled: row.tradesCancelled,
            disputesLost: row.disputesLost,
            feedbackPositive: row.feedbackPositive,
            feedbackNegative: row.feedbackNegative,
            distinctCounterparties: row.distinctCounterparties,
            paySecondsSum: row.paySecondsSum,
            paysCounted: row.paysCounted,
            releaseSecondsSum: row.releaseSecondsSum,
            releasesCounted: row.releasesCounted,
            completed30d: row.completed30d,
            cancelled30d: row.cancelled30d,
          },
  };
}

/** Sets only the fields present in `patch` (null clears one). Returns the profile, or undefined if no such user. */
export async function updateProfile(sql: SqlRunner, id: string, patch: Partial<Profile>): Promise<Profile | undefined> {
  const has = (field: keyof Profile) => Object.hasOwn(patch, field);
  const [row] = await sql.query<Profile>(
    `UPDATE users SET
        display_name = CASE WHEN $2 THEN $3 ELSE display_name END,
        country      = CASE WHEN $4 THEN $5 ELSE country END,
        bio          = CASE WHEN $6 THEN $7 ELSE bio END,
        updated_at   = now()
      WHERE id = $1
      RETURNING display_name AS "displayName", country, bio`,
    [
      id,
      has('displayName'),
      patch.displayName ?? null,
      has('country'),
      patch.country ?? null,
      has('bio'),
      patch.bio ?? null,
    ],
  );
  return row;
}

/** Sets the roles and bumps the token generation, so tokens carrying the old roles can be refused. */
export async function setRoles(
  sql: SqlRunner,
  id: string,
  roles: Role[],
): Promise<{ before: Role[]; after: Role[]; tokenGeneration: number } | undefined> {
  const [row] = await sql.query<{ before: Role[]; after: Role[]; tokenGeneration: number }>(
    `UPDATE users u SET roles = $2::text[], token_generation = u.token_generation + 1, updated_at = now()
       FROM (SELECT roles FROM users WHERE id = $1 FOR UPDATE) old
      WHERE u.id = $1
      RETURNING old.roles AS before, u.roles AS after, u.token_generation AS "tokenGeneration"`,
    [id, roles],
  );
  return row;
}

/** Sets the status; disabling bumps the token generation, so every access token issued so far can be refused. */
export async function setStatus(
  sql: SqlRunner,
  id: string,
  status: 'ACTIVE' | 'DISABLED',
): Promise<{ before: string; after: string; tokenGeneration: number } | undefined> {
  const [row] = await sql.query<{ before: string; after: string; tokenGeneration: number }>(
    `UPDATE users u SET status = $2, token_generation = u.token_generation + CASE WHEN $2 = 'DISABLED' THEN 1 ELSE 0 END, updated_at = now()
       FROM (SELECT status FROM users WHERE id = $1 FOR UPDATE) old
      WHERE u.id = $1
      RETURNING old.status AS before, u.status AS after, u.token_generation AS "tokenGeneration"`,
    [id, status],
  );
  return row;
}
