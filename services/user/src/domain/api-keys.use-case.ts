import { conflict, hashApiKey, notFound, type Scope } from '@orrange/http';
import { countLiveApiKeys, insertApiKey, listApiKeys, resolveApiKey, revokeApiKey } from '../data/api-keys.repository';
import { asActingUser } from '../data/acting-user';
import { insertAudit, type AuditContext } from '../data/audit.repository';
import { isUuid } from '../data/sql';
import { lockUser } from '../data/users.repository';
import { forgetApiKeyResolutions, type Deps } from './deps';
import { newApiKey } from './secrets';

/** Live keys one user may hold. */
export const API_KEYS_PER_USER_MAX = 25;

/** Creates a key and returns it this one time; only its sha256 is stored. */
export async function createApiKey(
  deps: Deps,
  userId: string,
  input: { name: string; scopes: Scope[] },
  context: AuditContext,
) {
  const key = newApiKey();
  const scopes = [...new Set(input.scopes)].sort();
  const record = await asActingUser(deps.store, userId, async (tx) => {
    await lockUser(tx, userId);
    if ((await countLiveApiKeys(tx, userId)) >= API_KEYS_PER_USER_MAX)
      throw conflict(
        'API_KEY.LIMIT_REACHED',
        `At most ${API_KEYS_PER_USER_MAX} API keys per account; revoke one first.`,
      );
    const created = await insertApiKey(tx, { userId, name: input.name, scopes, keyHash: hashApiKey(key) });
    await insertAudit(tx, context, {
      action: 'api-key.created',
      targetId: created.id,
      metadata: { name: created.name, scopes: created.scopes },
    });
    return created;
  });
  return { id: record.id, name: record.name, scopes: record.scopes, createdAt: record.createdAt, key };
}

export function listKeys(deps: Deps, userId: string) {
  return asActingUser(deps.store, userId, (tx) => listApiKeys(tx, userId, API_KEYS_PER_USER_MAX));
}

/**
 * Revokes one of the caller's own keys (another user's key is simply not found), then drops the
 * gateway's cached resolution so the key stops working now rather than when the cache expires: answered once every
 * gateway refuses it.
 */
export async function revokeKey(deps: Deps, userId: string, keyId: string, context: AuditContext): Promise<void> {
  if (!isUuid(keyId)) throw notFound('API_KEY.NOT_FOUND', 'No such API key.');
  const revoked = await asActingUser(deps.store, userId, async (tx) => {
    const row = await revokeApiKey(tx, userId, keyId);
    if (row)
      await insertAudit(tx, context, { action: 'api-key.revoked', targetId: keyId, metadata: { name: row.name } });
    return row;
  });
  if (!revoked) throw notFound('API_KEY.NOT_FOUND', 'No such API key.');
  await forgetApiKeyResolutions(deps, [revoked.keyHash]);
}

/** For the gateway: who a key hash belongs to, or undefined (unknown, revoked, or the owner is disabled). */
export function resolveKey(deps: Deps, keyHash: string) {
  return resolveApiKey(deps.db, keyHash);
}
