import type { Role } from '@orrange/http';
import type { SqlRunner } from '@orrange/db';

export interface RotatedToken {
  familyId: string;
  userId: string;
  roles: Role[];
  status: 'ACTIVE' | 'DISABLED';
  tokenGeneration: number;
}

export interface StoredToken {
  familyId: string;
  userId: string;
  rotatedAt: Date | null;
  revokedAt: Date | null;
}

export async function insertRefreshToken(
  sql: SqlRunner,
  token: { id: string; familyId: string; userId: string; tokenHash: string; ttlDays: number },
): Promise<void> {
  await sql.query(
    `INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at) VALUES ($1, $2, $3, $4, now() + make_interval(days => $5))`,
    [token.id, token.familyId, token.userId, token.tokenHash, token.ttlDays],
  );
}

/**
 * Marks a live token rotated, race-safely: of two requests presenting the same token, exactly one sees a
 * row here. Returns its family and the owner's current roles and status, or undefined when the token is
 * unknown, already rotated, revoked or expired.
 */
export async function rotateRefreshToken(sql: SqlRunner, tokenHash: string): Promise<RotatedToken | undefined> {
  const [row] = await sql.query<RotatedToken>(
    `WITH r AS (
       UPDATE refresh_tokens SET rotated_at = now()
        WHERE token_hash = $1 AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > now()
        RETURNING family_id, user_id)
     SELECT r.family_id AS "familyId", r.user_id AS "userId", u.roles, u.status, u.token_generation AS "tokenGeneration" FROM r JOIN users u ON u.id = r.user_id`,
    [tokenHash],
  );
  return row;
}

export async function findRefreshToken(sql: SqlRunner, tokenHash: string): Promise<StoredToken | undefined> {
  const [row] = await sql.query<StoredToken>(
    `SELECT family_id AS "familyId", user_id AS "userId", rotated_at AS "rotatedAt", revoked_at AS "revokedAt" FROM refresh_tokens WHERE token_hash = $1`,
    [tokenHash],
  );
  return row;
}

/** Revokes every token of a family; returns how many were still live. */
export async function revokeFamily(sql: SqlRunner, familyId: string): Promise<number> {
  const rows = await sql.query(
    `UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL RETURNING 1`,
    [familyId],
  );
  return rows.length;
}

/** Ends every session of a user (account disabled); returns the families (session ids) that were still live. */
export async function revokeAllForUser(sql: SqlRunner, userId: string): Promise<string[]> {
  const rows = await sql.query<{ familyId: string }>(
    `UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL RETURNING family_id AS "familyId"`,
    [userId],
  );
  return [...new Set(rows.map((row) => row.familyId))];
}

/**
 * Deletes tokens that can no longer matter: expired, or revoked, for more than a day (a rotated token is
 * kept until it expires, so its reuse is still recognised). At most `batchMax` rows per call.
 */
export async function purgeRefreshTokens(sql: SqlRunner, batchMax: number): Promise<number> {
  const rows = await sql.query(
    `DELETE FROM refresh_tokens WHERE id IN (
       SELECT id FROM refresh_tokens
        WHERE expires_at < now() - interval '1 day' OR revoked_at < now() - interval '1 day'
        LIMIT $1)
     RETURNING 1`,
    [batchMax],
  );
  return rows.length;
}
