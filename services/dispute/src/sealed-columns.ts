import { idempotencyAnswers, type AnySealedColumn } from '@orrange/secrets';
import { sealedEvidence, sealedJournal } from './data/reseal.repository';

/** Every place this service keeps values sealed under ENCRYPTION_KEYS, for pnpm secrets:reencrypt. */
export const SEALED_COLUMNS: ReadonlyArray<AnySealedColumn> = [
  sealedEvidence,
  sealedJournal,
  idempotencyAnswers('dispute.idempotency_keys'),
];
