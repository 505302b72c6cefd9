import pg from 'pg';
import { DEV_ADMIN_PASSWORD } from '@orrange/config';
import { poolConfigFromUrl } from '@orrange/db';
import { PasswordHasher } from './domain/password-hasher';
import { SCHEMA } from './config';

export interface SeedAdminOptions {
  databaseUrl: string;
  email: string;
  password: string;
  /** NODE_ENV=production: the development password (what a missing ADMIN_PASSWORD means) is refused. */
  production?: boolean;
}

const USERNAME_ATTEMPTS_MAX = 5;

/**
 * Creates the bootstrap admin (or, when the email already has an account, makes sure it holds the admin
 * role; its password is left alone). Idempotent: run it on every `db:seed` and `start`. Needs the user
 * service's migrations applied.
 */
export async function seedAdmin(options: SeedAdminOptions): Promise<{ created: boolean; userId: string }> {
  const email = options.email.trim().toLowerCase();
  if (!/^[^\s@]+@[^\s@]+$/.test(email)) throw new Error('ADMIN_EMAIL is not an email address');
  if (options.password.length < 8 || options.password.length > 128) throw new Error('ADMIN_PASSWORD must be 8–128 characters');
  if (options.production && options.password === DEV_ADMIN_PASSWORD) throw new Error('ADMIN_PASSWORD: the development password must not be used in production (set a real one)');
  const client = new pg.Client(poolConfigFromUrl(options.databaseUrl, { schema: SCHEMA }));
  await client.connect();
  try {
    await client.query(`SET search_path TO "${SCHEMA}"`);
    const existing = await ensureAdminRole(client, email);
    if (existing) return { created: false, userId: existing };
    const passwordHash = await new PasswordHasher({ concurrencyMax: 1, waitingMax: 0 }).hash(options.password);
    for (let attempt = 0; attempt < USERNAME_ATTEMPTS_MAX; attempt += 1) {
      const username = adminUsername(email, attempt);
      const inserted = await client.query<{ id: string; created: boolean }>(
        `INSERT INTO users (email, username, username_key, password_hash, roles) VALUES ($1, $2, lower($2), $3, ARRAY['user', 'admin'])
         ON CONFLICT (email) DO UPDATE SET roles = CASE WHEN 'admin' = ANY (users.roles) THEN users.roles ELSE users.roles || 'admin'::text END
         RETURNING id, (xmax = 0) AS created`,
        [email, username, passwordHash],
      ).catch((error: { code?: string; constraint?: string }) => {
        if (error.code === '23505' && error.constraint === 'users_username_key') return undefined;
        throw error;
      });
      const row = inserted?.rows[0];
      if (row) return { created: row.created, userId: row.id };
    }
    throw new Error('could not find a free username for the admin');
  } finally {
    await client.end();
  }
}

async function ensureAdminRole(client: pg.Client, email: string): Promise<string | undefined> {
  const result = await client.query<{ id: string }>(
    `UPDATE users SET roles = CASE WHEN 'admin' = ANY (roles) THEN roles ELSE roles || 'admin'::text END, updated_at = now() WHERE email = $1 RETURNING id`,
    [email],
  );
  return result.rows[0]?.id;
}

/** `admin`, then the email's local part, then suffixed variants, always within the username rules. */
function adminUsername(email: string, attempt: number): string {
  if (attempt === 0) return 'admin';
  const local = email.split('@')[0]!.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 24).padEnd(3, '_');
  return attempt === 1 ? local : `${local}_${Math.random().toString(36).slice(2, 8)}`;
}
