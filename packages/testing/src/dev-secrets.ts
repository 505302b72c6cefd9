import { DEV_ADMIN_PASSWORD, DEV_ENCRYPTION_KEYS, DEV_JWT_KEYRING } from '@orrange/config';

/**
 * Development secrets of the shared variables, alone or beside a real key, as a production environment might still
 * hand them to any service: each service's config test checks that it refuses every one, by name.
 */
export const SHARED_DEV_SECRETS: ReadonlyArray<[variable: string, value: string]> = [
  ['JWT_SECRETS', DEV_JWT_KEYRING],
  ['JWT_SECRETS', `prod1:${'j'.repeat(40)},${DEV_JWT_KEYRING}`],
  ['ENCRYPTION_KEYS', DEV_ENCRYPTION_KEYS],
  ['ADMIN_PASSWORD', DEV_ADMIN_PASSWORD],
];
