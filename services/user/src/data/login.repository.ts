import { asUser, type Database, type SqlRunner } from '@orrange/db';
import { auditInsert, type AuditContext, type AuditEntry } from './audit.repository';
import { type NewRefreshToken, refreshTokenInsert } from './refresh-tokens.repository';
import type { UserRecord } from './users.repository';

// Login's reads and writes: hand-written SQL on the pool manager's pg pool, not the Prisma client, measured against
// the target "login (password hashing included) p99 ≤ 250 ms" (DESIGN.md). A successful login's database work (the
// credentials read, then acting user, audit row and refresh token in one transaction) took 2.3-3.2 ms of CPU through
// Prisma against 0.35-0.43 ms in SQL, beside 7-8 ms for the argon2id verification (2,000 sequential runs each, three
// rounds). At the bench's 40 logins/s, open loop, in-process, on this 2-core machine while other work shared it (three
// interleaved rounds against the code before): through Prisma 17.9-19.8 ms of CPU per login and p99 850-2,850 ms
// against 14.0-14.3 ms and p99 49-490 ms, here 11.8-13.3 ms and p99 170-590 ms against 13.5-14.0 ms and 155-670 ms.

const CREDENTIALS = `id, email, username, roles, status, token_generation AS "tokenGeneration", created_at AS "createdAt",
  password_hash AS "passwordHash"`;

export async function findCredentialsByEmail(
  sql: SqlRunner,
  email: string,
): Promise<(UserRecord & { passwordHash: string }) | undefined> {
  const [row] = await sql.query<UserRecord & { passwordHash: string }>(
    `SELECT ${CREDENTIALS} FROM users WHERE email = $1`,
    [email],
  );
  return row;
}

/**
 * A successful login's writes, in one round trip: BEGIN, the user as the acting user (refresh tokens are private
 * rows), the audit entry, the session's refresh token, COMMIT.
 */
export async function recordLogin(
  db: Database,
  login: { userId: string; context: AuditContext; audit: AuditEntry; refreshToken: NewRefreshToken },
): Promise<void> {
  await db.transaction(
    async (tx) => {
      for (const write of [auditInsert(login.context, login.audit), refreshTokenInsert(login.refreshToken)])
        tx.defer(write.sql, write.params);
    },
    { settings: asUser(login.userId) },
  );
}
