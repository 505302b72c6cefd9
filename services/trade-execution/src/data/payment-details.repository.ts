import type { Sealed } from '@orrange/secrets';
import type { SqlExecutor } from '@orrange/queue';

/** A trade's snapshot of the seller's payment method, sealed as the user service stored it. */
export interface StoredPaymentDetails extends Sealed {
  tradeId: string;
  methodId: string;
  ownerId: string;
  type: string;
  label: string;
}

/** The snapshot open_trades took when the trade opened, if the seller had a fitting saved method. */
export async function findPaymentDetails(db: SqlExecutor, tradeId: string): Promise<StoredPaymentDetails | undefined> {
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
export async function recordPaymentDetailsRead(db: SqlExecutor, read: PaymentDetailsRead): Promise<void> {
  await db.query('INSERT INTO payment_details_reads (trade_id, owner_id, reader_id, reader_role, request_id) VALUES ($1, $2, $3, $4, $5)', [
    read.tradeId, read.ownerId, read.readerId, read.readerRole, read.requestId,
  ]);
}
