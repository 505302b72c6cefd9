import { resealPaymentMethod, type Sealed, type SealedColumn, type SealedPaymentMethodRow } from '@orrange/secrets';
import type { SqlRunner } from '@orrange/db';

/** A trade's snapshot of the seller's payment method, sealed as the user service stored it. */
export interface StoredPaymentDetails extends Sealed {
  tradeId: string;
  methodId: string;
  ownerId: string;
  type: string;
  label: string;
}

/** The snapshot open_trades took when the trade opened, if the seller had a fitting saved method. */
export async function findPaymentDetails(db: SqlRunner, tradeId: string): Promise<StoredPaymentDetails | undefined> {
  const [row] = await db.query<StoredPaymentDetails>(
    `SELECT trade_id AS "tradeId", method_id::text AS "methodId", owner_id AS "ownerId", type, label, key_id AS "keyId", iv, tag, ciphertext
     FROM trade_payment_details WHERE trade_id = $1`,
    [tradeId],
  );
  return row;
}

export interface PaymentDetailsRead {
  tradeId: string;
  ownerId: string;
  readerId: string;
  readerRole: 'buyer' | 'arbitrator' | 'admin';
  requestId: string | null;
}

/** The audit of a read of someone else's payment details. */
export async function recordPaymentDetailsRead(db: SqlRunner, read: PaymentDetailsRead): Promise<void> {
  await db.query(
    'INSERT INTO payment_details_reads (trade_id, owner_id, reader_id, reader_role, request_id) VALUES ($1, $2, $3, $4, $5)',
    [read.tradeId, read.ownerId, read.readerId, read.readerRole, read.requestId],
  );
}

type SealedDetailsRow = SealedPaymentMethodRow & { cursor: string; trade_id: string };

/**
 * For pnpm secrets:reencrypt: snapshots sealed under any key but the active one, by trade. A snapshot keeps the AAD
 * of the saved method it copied (owner and method id), so it is sealed again under that same AAD.
 */
export const sealedPaymentDetails: SealedColumn<SealedDetailsRow> = {
  name: 'trade.trade_payment_details',
  stale: (tx, activeKid, after, limit) =>
    tx.query<SealedDetailsRow>(
      `SELECT trade_id AS cursor, trade_id, method_id::text, owner_id::text, key_id, iv, tag, ciphertext FROM trade_payment_details
        WHERE key_id <> $1 AND ($2::text IS NULL OR trade_id > $2) ORDER BY trade_id LIMIT $3 FOR UPDATE`,
      [activeKid, after, limit],
    ),
  async reseal(tx, keyring, row) {
    const s = resealPaymentMethod(keyring, row);
    await tx.query(
      'UPDATE trade_payment_details SET key_id = $2, iv = $3, tag = $4, ciphertext = $5 WHERE trade_id = $1',
      [row.trade_id, s.keyId, s.iv, s.tag, s.ciphertext],
    );
  },
};
