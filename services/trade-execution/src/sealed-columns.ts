import { idempotencyAnswers, type AnySealedColumn } from '@orrange/secrets';
import { sealedPaymentDetails } from './data/payment-details.repository';
import { sealedMessages } from './data/trade-message.repository';

/** Every place this service keeps values sealed under ENCRYPTION_KEYS, for pnpm secrets:reencrypt. */
export const SEALED_COLUMNS: ReadonlyArray<AnySealedColumn> = [
  sealedMessages,
  sealedPaymentDetails,
  idempotencyAnswers('trade.idempotency_keys'),
];
