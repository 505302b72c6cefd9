import { randomUUID } from 'node:crypto';
import { conflict, notFound } from '@orrange/http';
import { openPaymentMethod, sealPaymentMethod } from '@orrange/secrets';
import { asActingUser } from '../data/acting-user';
import { insertAudit, type AuditContext } from '../data/audit.repository';
import {
  countPaymentMethods,
  deletePaymentMethod,
  insertPaymentMethod,
  listPaymentMethods,
  type StoredPaymentMethod,
} from '../data/payment-methods.repository';
import { isUuid } from '../data/sql';
import { lockUser } from '../data/users.repository';
import type { Deps } from './deps';

/** `details`: free text, or a flat object of string fields (IBAN, holder name, ...). */
export type PaymentDetails = string | Record<string, string>;

export const PAYMENT_METHODS_PER_USER_MAX = 20;

export interface PaymentMethodView {
  id: string;
  type: string;
  label: string;
  details: PaymentDetails;
  createdAt: Date;
}

export async function addPaymentMethod(
  deps: Deps,
  userId: string,
  input: { type: string; label: string; details: PaymentDetails },
  context: AuditContext,
): Promise<PaymentMethodView> {
  const id = randomUUID();
  const sealed = sealPaymentMethod(deps.encryption, userId, id, input.details);
  const stored = await asActingUser(deps.store, userId, async (tx) => {
    await lockUser(tx, userId);
    if ((await countPaymentMethods(tx, userId)) >= PAYMENT_METHODS_PER_USER_MAX)
      throw conflict(
        'PAYMENT_METHOD.LIMIT_REACHED',
        `At most ${PAYMENT_METHODS_PER_USER_MAX} payment methods per account.`,
      );
    const row = await insertPaymentMethod(tx, { id, userId, type: input.type, label: input.label, ...sealed });
    await insertAudit(tx, context, { action: 'payment-method.created', targetId: id, metadata: { type: input.type } });
    return row;
  });
  return { id: stored.id, type: stored.type, label: stored.label, details: input.details, createdAt: stored.createdAt };
}

/** The owner's methods, decrypted. A row that fails authentication (tampered, swapped, unknown key) throws. */
export async function listOwnPaymentMethods(deps: Deps, userId: string): Promise<PaymentMethodView[]> {
  const rows = await asActingUser(deps.store, userId, (tx) =>
    listPaymentMethods(tx, userId, PAYMENT_METHODS_PER_USER_MAX),
  );
  return rows.map((row) => decrypt(deps, row));
}

export async function removePaymentMethod(
  deps: Deps,
  userId: string,
  id: string,
  context: AuditContext,
): Promise<void> {
  if (!isUuid(id)) throw notFound('PAYMENT_METHOD.NOT_FOUND', 'No such payment method.');
  const deleted = await asActingUser(deps.store, userId, async (tx) => {
    const row = await deletePaymentMethod(tx, userId, id);
    if (row)
      await insertAudit(tx, context, { action: 'payment-method.deleted', targetId: id, metadata: { type: row.type } });
    return row;
  });
  if (!deleted) throw notFound('PAYMENT_METHOD.NOT_FOUND', 'No such payment method.');
}

function decrypt(deps: Deps, row: StoredPaymentMethod): PaymentMethodView {
  const details = openPaymentMethod(deps.encryption, row, row.userId, row.id) as PaymentDetails;
  return { id: row.id, type: row.type, label: row.label, details, createdAt: row.createdAt };
}
