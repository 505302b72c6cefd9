import type { Database } from '@orrange/db';
import { AS_SYSTEM } from '@orrange/db';

/** Entries folded into the checkpoint by one transaction at most: a long backlog is caught up in bounded steps. */
export const CHECKPOINT_ENTRIES_MAX = 500_000;
/** How long a checkpoint waits for the transactions that were open when it chose its last entry. */
const SETTLE_TIMEOUT_MS = 10_000;
const SETTLE_POLL_MS = 50;

/**
 * Moves the ledger's checkpoint (see the ledger_checkpoint migration) up to the newest entry, at most
 * CHECKPOINT_ENTRIES_MAX further, and says how many entries it folded in: a full step means there are more.
 *
 * Entry ids come from a sequence, so an entry with an id at or below the one chosen may belong to a transaction
 * still open when it was chosen, and commit later: summed into nothing, it would be missed by every verify after.
 * So the checkpoint first waits until every transaction of this database that was open at that moment has ended
 * (any later one draws a higher id). Sessions of other roles show no transaction start without pg_read_all_stats:
 * they are waited for as if open, so with such a role connected the checkpoint gives up after SETTLE_TIMEOUT_MS and
 * verify reads more entries, never fewer. It sums every account's entries: as the system.
 */
export async function advanceLedgerCheckpoint(db: Database): Promise<number> {
  const [chosen] = await db.withSettings(AS_SYSTEM).primary.query<{ through: string; at: Date; from: string }>(
    `SELECT least(coalesce((SELECT max(id) FROM entries), 0), c.through_entry_id + $1)::text AS through, clock_timestamp() AS at,
            c.through_entry_id::text AS from
     FROM ledger_checkpoint c`,
    [CHECKPOINT_ENTRIES_MAX],
  );
  if (BigInt(chosen!.through) <= BigInt(chosen!.from)) return 0;
  await transactionsOpenAtHaveEnded(db, chosen!.at);
  return db.transaction(
    async (tx) => {
      // Locked and read again: another replica may have moved it meanwhile.
      const [current] = await tx.query<{ from: string }>(
        'SELECT through_entry_id::text AS from FROM ledger_checkpoint FOR UPDATE',
      );
      if (BigInt(chosen!.through) <= BigInt(current!.from)) return 0;
      const [row] = await tx.query<{ folded: number }>(
        `WITH step AS (SELECT journal_id, account_id, asset, amount FROM entries WHERE id > $1 AND id <= $2),
       totals AS (
         INSERT INTO ledger_checkpoint_totals AS t (account_id, total) SELECT account_id, sum(amount) FROM step GROUP BY account_id
         ON CONFLICT (account_id) DO UPDATE SET total = t.total + EXCLUDED.total
       ),
       -- Journals whose last entry is in this step: checked now, once (one with an entry after it is checked by verify).
       settled AS (SELECT journal_id FROM entries WHERE journal_id IN (SELECT journal_id FROM step) GROUP BY journal_id HAVING max(id) <= $2),
       unbalanced AS (
         SELECT e.asset, count(*) AS n FROM entries e JOIN settled USING (journal_id) GROUP BY e.journal_id, e.asset HAVING sum(e.amount) <> 0
       ),
       sums AS (SELECT asset, sum(amount) AS total FROM step GROUP BY asset)
       UPDATE ledger_checkpoint c SET
         through_entry_id = $2,
         entry_sums = (SELECT coalesce(jsonb_object_agg(asset, total::text), '{}') FROM (
           SELECT asset, sum(total) AS total FROM (SELECT key AS asset, value::numeric AS total FROM jsonb_each_text(c.entry_sums) UNION ALL SELECT asset, total FROM sums) s GROUP BY asset) a),
         unbalanced_journals = (SELECT coalesce(jsonb_object_agg(asset, n), '{}') FROM (
           SELECT asset, sum(n)::int AS n FROM (SELECT key AS asset, value::int AS n FROM jsonb_each_text(c.unbalanced_journals) UNION ALL SELECT asset, n FROM unbalanced) u GROUP BY asset) a),
         taken_at = now()
       RETURNING (SELECT count(*) FROM step)::int AS folded`,
        [current!.from, chosen!.through],
      );
      return row!.folded;
    },
    { settings: AS_SYSTEM },
  );
}

async function transactionsOpenAtHaveEnded(db: Database, at: Date): Promise<void> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  for (;;) {
    const [open] = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
         AND (xact_start <= $1 OR (xact_start IS NULL AND state IS NULL))`,
      [at],
    );
    if (open!.n === 0) return;
    if (Date.now() >= deadline)
      throw new Error(
        `ledger checkpoint: ${open!.n} transactions open since before it did not end within ${SETTLE_TIMEOUT_MS} ms`,
      );
    await new Promise((resolve) => setTimeout(resolve, SETTLE_POLL_MS));
  }
}
