import { resealPaymentMethod, type Sealed, type SealedColumn, type SealedPaymentMethodRow } from '@orrange/secrets';
import type { SqlRunner } from '@orrange/db';

export interface StoredPaymentMethod extends Sealed {
  id: string;
  userId: string;
  type: string;
  label: string;
  createdAt: Date;
}

const COLUMNS = `id, user_id AS "userId", type, label, key_id AS "keyId", iv, tag, ciphertext, created_at AS "createdAt"`;

export async function insertPaymentMethod(
  sql: SqlRunner,
  row: Omit<StoredPaymentMethod, 'createdAt'>,
): Promise<StoredPaymentMethod> {
  const [stored] = await sql.query<StoredPaymentMethod>(
    `INSERT INTO payment_methods (id, user_id, type, label, key_id, iv, tag, ciphertext) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${COLUMNS}`,
    [row.id, row.userId, row.type, row.label, row.keyId, row.iv, row.tag, row.ciphertext],
  );
  return stored!;
}

export function listPaymentMethods(sql: SqlRunner, userId: string, limitMax: number): Promise<StoredPaymentMethod[]> {
  return sql.query<StoredPaymentMethod>(
    `SELECT ${COLUMNS} FROM payment_methods WHERE user_id = $1 ORDER BY created_at, id LIMIT $2`,
    [userId, limitMax],
  );
}

export async function countPaymentMethods(sql: SqlRunner, userId: string): Promise<number> {
  const [row] = await sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM payment_methods WHERE user_id = $1`, [
    userId,
  ]);
  return row?.n ?? 0;
}

export async function deletePaymentMethod(
  sql: SqlRunner,
  userId: string,
  id: string,
): Promise<{ type: string } | undefined> {
  const [row] = await sql.query<{ type: string }>(
    `DELETE FROM payment_methods WHERE id = $1 AND user_id = $2 RETURNING type`,
    [id, userId],
  );
  return row;
}

/** For pnpm secrets:reencrypt: payment methods sealed under any key but the active one, by id. */
export const sealedPaymentMethods: SealedColumn<SealedPaymentMethodRow & { cursor: string }> = {
  name: 'users.payment_methods',
  stale: (tx, activeKid, after, limit) =>
    tx.query<SealedPaymentMethodRow & { cursor: string }>(
      `SELECT id::text AS cursor, id::text AS method_id, user_id AS owner_id, key_id, iv, tag, ciphertext FROM payment_methods
        WHERE key_id <> $1 AND ($2::uuid IS NULL OR id > $2::uuid) ORDER BY id LIMIT $3 FOR UPDATE`,
      [activeKid, after, limit],
    ),
  async reseal(tx, keyring, row) {
    const s = resealPaymentMethod(keyring, row);
    await tx.query('UPDATE payment_methods SET key_id = $2, iv = $3, tag = $4, ciphertext = $5 WHERE id = $1', [
      row.method_id,
      s.keyId,
      s.iv,
      s.tag,
      s.ciphertext,
    ]);
  },
};
