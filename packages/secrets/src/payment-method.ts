import { open, seal, type EncryptionKeyring, type Sealed } from './sealing';

/**
 * The AAD of a saved payment method's sealed details: its owner and its id, so a sealed row cannot be moved to another
 * owner or method. The user service seals with it; trade-execution opens the snapshot a trade keeps of it (which the
 * database copies as is, sealed bytes and all).
 */
const paymentMethodAad = (ownerId: string, methodId: string) => `payment-method:v1:${ownerId}:${methodId}`;

/** A payment method's details sealed for its row: JSON, bound to its owner and id. */
export function sealPaymentMethod(
  keyring: EncryptionKeyring,
  ownerId: string,
  methodId: string,
  details: unknown,
): Sealed {
  return seal(keyring, JSON.stringify(details), paymentMethodAad(ownerId, methodId));
}

/** The details of a sealed payment method; throws when the row was tampered with or moved, or its key is unknown. */
export function openPaymentMethod(
  keyring: EncryptionKeyring,
  sealed: Sealed,
  ownerId: string,
  methodId: string,
): unknown {
  return JSON.parse(open(keyring, sealed, paymentMethodAad(ownerId, methodId))) as unknown;
}

/** A sealed payment method as a table stores it (users.payment_methods, trade.trade_payment_details), for re-encryption. */
export interface SealedPaymentMethodRow {
  owner_id: string;
  method_id: string;
  key_id: string;
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
}

/** The row's details sealed again under the keyring's active key, bound as before (pnpm secrets:reencrypt). */
export function resealPaymentMethod(keyring: EncryptionKeyring, row: SealedPaymentMethodRow): Sealed {
  const aad = paymentMethodAad(row.owner_id, row.method_id);
  return seal(
    keyring,
    open(keyring, { keyId: row.key_id, iv: row.iv, tag: row.tag, ciphertext: row.ciphertext }, aad),
    aad,
  );
}
