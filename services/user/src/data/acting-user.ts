import { ACTING_USER_SETTING } from '@orrange/db';
import type { UserClient, UserDatabase } from './prisma';

/** Names the acting user for the rest of the transaction (`set_config(…, true)`: the setting ends with it). */
const SET_ACTING_USER = `SELECT set_config('${ACTING_USER_SETTING}', $1, true)`;

/**
 * A transaction on one user's private rows (payment methods, API keys, refresh tokens): it names the acting user
 * first, and the row-level security policies of those tables (migrations `private_rows`, `private_credentials`)
 * show and accept that user's rows alone. Every read or write of such a table goes through here (or actAsTokenOwner);
 * one that does not sees no rows at all.
 */
export function asActingUser<T>(store: UserDatabase, userId: string, work: (tx: UserClient) => Promise<T>): Promise<T> {
  return store.transaction(async ({ client }) => {
    await actAs(client, userId);
    return work(client);
  });
}

/** Names the acting user for the rest of the transaction. */
export async function actAs(tx: UserClient, userId: string): Promise<void> {
  await tx.$executeRawUnsafe(SET_ACTING_USER, userId);
}

/**
 * Names the owner of the refresh token with this hash as the acting user (nobody, when no token has it): a refresh or
 * a logout knows the token, not yet whose it is. `refresh_token_owner` is the one look-up that sees every user's
 * tokens (migration `private_credentials`), and answers only who holds the token presented.
 */
export async function actAsTokenOwner(tx: UserClient, tokenHash: string): Promise<void> {
  await tx.$executeRaw`SELECT set_config(${ACTING_USER_SETTING}, coalesce(refresh_token_owner(${tokenHash})::text, ''), true)`;
}
