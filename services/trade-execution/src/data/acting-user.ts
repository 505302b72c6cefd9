import type { Settings } from '@orrange/db';

/**
 * Who acts, for the row-level security of a user's private rows here (migration `private_rows`: the ledger's
 * accounts and entries, withdrawals and their transitions, trade chat): the setting the policies read, made per
 * transaction (`Database.transaction(…, { settings })`) or per statement (`Database.withSettings`), as the user
 * service names its acting user. A statement that names nobody sees none of those rows.
 */
const ACTING_USER = 'orrange.user_id';

/** The acting value of the system paths (AS_SYSTEM), never a user's id (those are UUIDs). */
const SYSTEM = 'system';

/** The settings of work done for one user: that user's private rows, and no one else's. */
export function asUser(userId: string): Settings {
  if (userId === SYSTEM) throw new Error('a user cannot act as the system');
  return { [ACTING_USER]: userId };
}

/**
 * The settings of work done for everybody, which sees every private row: custody's webhooks and the withdrawal
 * sender, an admin's review or reading, the ledger's verification and checkpoint, metrics. Every use says why
 * next to it; user-facing work acts as its user (asUser) even when it moves others' money (the postings run as
 * the owner of the ledger's tables).
 */
export const AS_SYSTEM: Settings = { [ACTING_USER]: SYSTEM };
