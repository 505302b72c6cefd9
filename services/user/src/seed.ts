import { DEV_ADMIN_PASSWORD } from '@orrange/config';
import { Database } from '@orrange/db';
import { createUserDatabase, type UserDatabase } from './data/prisma';
import { findUserByEmail, insertUserIfFree } from './data/users.repository';
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

/** The seed will not do what it was asked; the message says why and what to do (operators read it, no stack). */
export class SeedRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SeedRefusedError';
  }
}

/**
 * Creates the bootstrap admin when ADMIN_EMAIL has no account yet. Idempotent: run it on every `db:seed` and
 * `start`; an existing account that already holds the admin role is left as it is (its password too).
 * An existing account WITHOUT the admin role is refused, loudly: whoever registered that email first (anyone,
 * through the public API) would otherwise become admin with their own password. Needs the user service's
 * migrations applied.
 */
export async function seedAdmin(options: SeedAdminOptions): Promise<{ created: boolean; userId: string }> {
  const email = options.email.trim().toLowerCase();
  if (!/^[^\s@]+@[^\s@]+$/.test(email)) throw new SeedRefusedError('ADMIN_EMAIL is not an email address');
  if (options.password.length < 8 || options.password.length > 128)
    throw new SeedRefusedError('ADMIN_PASSWORD must be 8–128 characters');
  if (options.production && options.password === DEV_ADMIN_PASSWORD)
    throw new SeedRefusedError(
      'ADMIN_PASSWORD: the development password must not be used in production (set a real one)',
    );
  // As the migration role (DATABASE_URL's user), before any service runs: one connection of its own.
  const db = new Database({ url: options.databaseUrl, name: 'user-seed', schema: SCHEMA, max: 1, healthIntervalMs: 0 });
  const store = createUserDatabase(db);
  try {
    const existing = await existingAdmin(store, email);
    if (existing) return { created: false, userId: existing };
    const passwordHash = await new PasswordHasher({ concurrencyMax: 1, waitingMax: 0 }).hash(options.password);
    for (let attempt = 0; attempt < USERNAME_ATTEMPTS_MAX; attempt += 1) {
      const user = {
        email,
        username: adminUsername(email, attempt),
        passwordHash,
        roles: ['user' as const, 'admin' as const],
      };
      // Only a free email: an account registered meanwhile is never promoted (checked again below).
      const inserted = await store.query((c) => insertUserIfFree(c, user));
      if (inserted) return { created: true, userId: inserted.id };
      const raced = await existingAdmin(store, email);
      if (raced) return { created: false, userId: raced };
      // Neither inserted nor someone else's email: the username was taken, the next attempt tries another.
    }
    throw new SeedRefusedError('could not find a free username for the admin');
  } finally {
    await store.close();
    await db.close();
  }
}

/**
 * The id of the account with this email if it already holds the admin role, undefined if there is none; an
 * account without the role is refused.
 */
async function existingAdmin(store: UserDatabase, email: string): Promise<string | undefined> {
  const account = await store.query((db) => findUserByEmail(db, email));
  if (!account) return undefined;
  if (account.roles.includes('admin')) return account.id;
  throw new SeedRefusedError(
    `ADMIN_EMAIL ${email} belongs to an existing account that is not an admin; refusing to make it one (whoever registered ` +
      'that email would become admin with their own password). Set ADMIN_EMAIL to an address that has no account, or, ' +
      'if you own that account, give it the admin role with PATCH /api/v1/admin/users/:id/roles as an existing admin.',
  );
}

/** `admin`, then the email's local part, then suffixed variants, always within the username rules. */
function adminUsername(email: string, attempt: number): string {
  if (attempt === 0) return 'admin';
  const local = email
    .split('@')[0]!
    .replace(/[^A-Za-z0-9_]/g, '_')
    .slice(0, 24)
    .padEnd(3, '_');
  return attempt === 1 ? local : `${local}_${Math.random().toString(36).slice(2, 8)}`;
}
