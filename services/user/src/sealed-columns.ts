import { idempotencyAnswers, type AnySealedColumn } from '@orrange/secrets';
import { sealedPaymentMethods } from './data/payment-methods.repository';

/** Every place this service keeps values sealed under ENCRYPTION_KEYS, for pnpm secrets:reencrypt. */
export const SEALED_COLUMNS: ReadonlyArray<AnySealedColumn> = [
  sealedPaymentMethods,
  idempotencyAnswers('users.idempotency_keys'),
];
