export { paymentMethodAad } from './payment-method-aad';
export {
  fingerprint, open, openText, parseEncryptionKeyring, parseSealedText, seal, sealToText, type EncryptionKeyring, type Sealed,
} from './sealing';
export { resealColumn, RESEAL_BATCH_ROWS, type ResealReport, type SealedColumn } from './reseal';
export { encryptionSchema, keyringFromConfig, type EncryptionConfig } from './config';
export { idempotencyAnswers, idempotencyProtection } from './idempotency';
