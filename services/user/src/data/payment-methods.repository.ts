import { resealPaymentMethod, type Sealed, type SealedColumn, type SealedPaymentMethodRow } from '@orrange/secrets';
import type { Prisma } from '../generated/prisma/client';
import type { UserClient } from './prisma';

export interface StoredPaymentMethod extends Sealed {
  id: string;
  userId: string;
  type: string;
  label: string;
  createdAt: Date;
}

const METHOD_FIELDS = {
  id: true,
  userId: true,
  type: true,
  label: true,
  keyId: true,
  iv: true,
  tag: true,
  ciphertext: true,
  createdAt: true,
} satisfies Prisma.PaymentMethodSelect;

/** Prisma reads bytea as Uint8Array, the sealing code takes Buffers: the same bytes, not copied. */
function toStored(row: Prisma.PaymentMethodGetPayload<{ select: typeof METHOD_FIELDS }>): StoredPaymentMethod {
  const buffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { ...row, iv: buffer(row.iv), tag: buffer(row.tag), ciphertext: buffer(row.ciphertext) };
}

export async function insertPaymentMethod(
  tx: UserClient,
  row: Omit<StoredPaymentMethod, 'createdAt'>,
): Promise<StoredPaymentMethod> {
  // Prisma's Bytes input is a Uint8Array over an ArrayBuffer: copies of the three small values.
  const bytes = {
    iv: new Uint8Array(row.iv),
    tag: new Uint8Array(row.tag),
    ciphertext: new Uint8Array(row.ciphertext),
  };
  return toStored(await tx.paymentMethod.create({ data: { ...row, ...bytes }, select: METHOD_FIELDS }));
}

export async function listPaymentMethods(
  tx: UserClient,
  userId: string,
  limitMax: number,
): Promise<StoredPaymentMethod[]> {
  const rows = await tx.paymentMethod.findMany({
    where: { userId },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    take: limitMax,
    select: METHOD_FIELDS,
  });
  return rows.map(toStored);
}

export function countPaymentMethods(tx: UserClient, userId: string): Promise<number> {
  return tx.paymentMethod.count({ where: { userId } });
}

export async function deletePaymentMethod(
  tx: UserClient,
  userId: string,
  id: string,
): Promise<{ type: string } | undefined> {
  // Not Prisma's delete, which throws when no row matches: "no such method" is an ordinary answer here. A concurrent
  // delete between the two statements leaves count 0, the same answer.
  const existing = await tx.paymentMethod.findFirst({ where: { id, userId }, select: { type: true } });
  if (!existing) return undefined;
  const { count } = await tx.paymentMethod.deleteMany({ where: { id, userId } });
  return count === 1 ? existing : undefined;
}

/**
 * For pnpm secrets:reencrypt: payment methods sealed under any key but the active one, by id. SQL on the script's
 * transaction: it drives every service's sealed columns through one interface (packages/secrets), as the migration
 * role, which row-level security does not restrict.
 */
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
