import { DEV_ENCRYPTION_KEYS, z } from '@orrange/config';
import { parseEncryptionKeyring, type EncryptionKeyring } from './sealing';

/**
 * The keyring of every service that stores sealed data (user, trade-execution, dispute) and of the re-encryption
 * command: one keyring for all, so payment details, chat and evidence rotate together. The development default is
 * refused with NODE_ENV=production (assertNoDevSecrets).
 */
export const encryptionSchema = z.object({
  /** `kid:base64(32 bytes)` pairs, comma-separated; the first (or ENCRYPTION_ACTIVE_KID) encrypts, all decrypt. */
  ENCRYPTION_KEYS: z.string().default(DEV_ENCRYPTION_KEYS),
  ENCRYPTION_ACTIVE_KID: z.string().optional(),
});

export type EncryptionConfig = z.infer<typeof encryptionSchema>;

export function keyringFromConfig(config: EncryptionConfig): EncryptionKeyring {
  return parseEncryptionKeyring(config.ENCRYPTION_KEYS, config.ENCRYPTION_ACTIVE_KID);
}
