import type { Database, Tx } from '@orrange/db';

/**
 * A transaction on one user's private rows: it names the acting user first (`orrange.user_id`, for this
 * transaction only), and the row-level security policies of those tables (migration `private_rows`) show and
 * accept that user's rows alone. Every read or write of such a table goes through here; one that does not sees
 * no rows at all.
 */
export function asActingUser<T>(db: Database, userId: string, work: (tx: Tx) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.query(`SELECT set_config('orrange.user_id', $1, true)`, [userId]);
    return work(tx);
  });
}
