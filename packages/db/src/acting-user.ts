import type { Settings } from './database';

/**
 * Who acts, for the row-level security of users' private rows (the user service's payment methods, API keys and
 * refresh tokens, trade-execution's ledger, withdrawals and chat): the transaction-local setting every such policy
 * reads. A statement that names nobody sees none of those rows.
 */
export const ACTING_USER_SETTING = 'orrange.user_id';

/** The acting value of system paths (AS_SYSTEM), never a user's id (those are UUIDs). */
const SYSTEM = 'system';

/** The settings of work done for one user: that user's private rows, and no one else's. */
export function asUser(userId: string): Settings {
  if (userId === SYSTEM) throw new Error('a user cannot act as the system');
  return { [ACTING_USER_SETTING]: userId };
}

/**
 * The settings of work done for everybody, which sees every private row where a policy lets the system in (each
 * use says why next to it); user-facing work acts as its user even when it moves others' money.
 */
export const AS_SYSTEM: Settings = { [ACTING_USER_SETTING]: SYSTEM };
