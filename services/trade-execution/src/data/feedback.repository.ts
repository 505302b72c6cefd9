import type { SqlRunner } from '@orrange/db';

/** One party's feedback on one trade: the first is kept, and a second from the same party writes nothing (undefined). */
export async function insertFeedback(
  tx: SqlRunner,
  feedback: {
    tradeId: string;
    fromUserId: string;
    toUserId: string;
    rating: 'POSITIVE' | 'NEGATIVE';
    comment: string | null;
  },
): Promise<{ createdAt: Date } | undefined> {
  const [row] = await tx.query<{ createdAt: Date }>(
    'INSERT INTO trade_feedback (trade_id, from_user_id, to_user_id, rating, comment) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING created_at AS "createdAt"',
    [feedback.tradeId, feedback.fromUserId, feedback.toUserId, feedback.rating, feedback.comment],
  );
  return row;
}
