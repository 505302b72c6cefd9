export {
  openPaymentMethod,
  resealPaymentMethod,
  sealPaymentMethod,
  type SealedPaymentMethodRow,
} from './payment-method';
export {
  fingerprint,
  open,
  openText,
  parseEncryptionKeyring,
  parseSealedText,
  seal,
  sealedTextPrefix,
  sealToText,
  type EncryptionKeyring,
  type Sealed,
} from './sealing';
export { resealColumn, RESEAL_BATCH_ROWS, type ResealReport, type SealedColumn, type AnySealedColumn } from './reseal';
export { encryptionSchema, keyringFromConfig, type EncryptionConfig } from './config';
export { idempotencyAnswers, idempotencyProtection } from './idempotency';
