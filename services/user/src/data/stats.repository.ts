import type { Sql } from './sql';

type Counter = 'trades_completed' | 'trades_cancelled' | 'disputes_lost' | 'feedback_positive' | 'feedback_negative';

/** Adds one to a reputation counter of each given user, creating their row on first use. */
export async function incrementStats(sql: Sql, counter: Counter, userIds: string[]): Promise<void> {
  const distinct = [...new Set(userIds)];
  if (distinct.length === 0) return;
  await sql.query(
    `INSERT INTO user_stats (user_id, ${counter}) SELECT id, 1 FROM unnest($1::uuid[]) AS id
     ON CONFLICT (user_id) DO UPDATE SET ${counter} = user_stats.${counter} + 1, updated_at = now()`,
    [distinct],
  );
}
