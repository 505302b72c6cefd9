import type { Role, Scope } from '@orrange/http';
import type { SqlRunner } from '@orrange/db';

export interface ApiKeyRecord {
  id: string;
  name: string;
  scopes: Scope[];
  createdAt: Date;
  lastUsedAt: Date | null;
}

const COLUMNS = `id, name, scopes, created_at AS "createdAt", last_used_at AS "lastUsedAt"`;
/** lastUsedAt is written at most once per this interval per key, so resolving stays a read. */
const LAST_USED_RESOLUTION = `interval '60 seconds'`;

export async function insertApiKey(
  sql: SqlRunner,
  key: { userId: string; name: string; scopes: Scope[]; keyHash: string },
): Promise<ApiKeyRecord> {
  const [row] = await sql.query<ApiKeyRecord>(
    `INSERT INTO api_keys (user_id, name, scopes, key_hash) VALUES ($1, $2, $3::text[], $4) RETURNING ${COLUMNS}`,
    [key.userId, key.name, key.scopes, key.keyHash],
  );
  return row!;
}

export function listApiKeys(sql: SqlRunner, userId: string, limitMax: number): Promise<ApiKeyRecord[]> {
  return sql.query<ApiKeyRecord>(
    `SELECT ${COLUMNS} FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id LIMIT $2`,
    [userId, limitMax],
  );
}

export async function countLiveApiKeys(sql: SqlRunner, userId: string): Promise<number> {
  const [row] = await sql.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL`,
    [userId],
  );
  return row?.n ?? 0;
}

/** Revokes the caller's own live key; returns its hash (to drop the gateway's cache), or undefined. */
export async function revokeApiKey(
  sql: SqlRunner,
  userId: string,
  id: string,
): Promise<{ keyHash: string; name: string } | undefined> {
  const [row] = await sql.query<{ keyHash: string; name: string }>(
    `UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING key_hash AS "keyHash", name`,
    [id, userId],
  );
  return row;
}

/** A live key of an active user, with its owner's roles; touches lastUsedAt at most once a minute. One round trip. */
export async function resolveApiKey(
  sql: SqlRunner,
  keyHash: string,
): Promise<{ userId: string; roles: Role[]; scopes: Scope[] } | undefined> {
  const [row] = await sql.query<{ userId: string; roles: Role[]; scopes: Scope[] }>(
    `WITH k AS (
       SELECT k.id, k.user_id, k.scopes, u.roles, k.last_used_at
         FROM api_keys k JOIN users u ON u.id = k.user_id
        WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND u.status = 'ACTIVE'),
     touched AS (
       UPDATE api_keys SET last_used_at = now()
        WHERE id = (SELECT id FROM k) AND (last_used_at IS NULL OR last_used_at < now() - ${LAST_USED_RESOLUTION}))
     SELECT user_id AS "userId", roles, scopes FROM k`,
    [keyHash],
  );
  return row;
}

/** Hashes of a user's live keys (to drop the gateway's cached resolutions when the account changes). */
export async function liveKeyHashes(sql: SqlRunner, userId: string): Promise<string[]> {
  const rows = await sql.query<{ keyHash: string }>(
    `SELECT key_hash AS "keyHash" FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL`,
    [userId],
  );
  return rows.map((r) => r.keyHash);
}
