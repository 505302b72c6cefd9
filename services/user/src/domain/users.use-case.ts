import { notFound, type Role } from '@orrange/http';
import { asActingUser } from '../data/acting-user';
import { liveKeyHashes } from '../data/api-keys.repository';
import { revokeAllForUser } from '../data/refresh-tokens.repository';
import { insertAudit, type AuditContext } from '../data/audit.repository';
import { isUuid } from '../data/sql';
import { findUserWithProfile, setRoles, setStatus, updateProfile, type Profile } from '../data/users.repository';
import { endSessions, forgetApiKeyResolutions, refuseGenerationsBelow, type Deps } from './deps';
import { publicStats } from './reputation';

const userNotFound = () => notFound('USER.NOT_FOUND', 'No such user.');

export async function getMe(deps: Deps, userId: string) {
  const user = await deps.store.query((db) => findUserWithProfile(db, userId));
  if (!user) throw userNotFound();
  return {
    id: user.id,
    email: user.email,
    username: user.username,
    roles: user.roles,
    profile: user.profile,
    stats: publicStats(user.stats),
    createdAt: user.createdAt,
  };
}

/**
 * What anyone may see of a user: never the email. A malformed id is simply not found. Public profiles and their
 * statistics tolerate a replica's lag (nobody reads their own write here: a user's own account is /users/me).
 */
export async function getPublicProfile(deps: Deps, id: string) {
  const user = isUuid(id) ? await deps.store.queryRead((db) => findUserWithProfile(db, id)) : undefined;
  if (!user) throw userNotFound();
  return {
    id: user.id,
    username: user.username,
    profile: user.profile,
    stats: publicStats(user.stats),
    createdAt: user.createdAt,
  };
}

export async function patchProfile(deps: Deps, userId: string, patch: Partial<Profile>): Promise<Profile> {
  const profile = await deps.store.query((db) => updateProfile(db, userId, patch));
  if (!profile) throw userNotFound();
  return profile;
}

/**
 * Admins set roles; `user` is always kept. Access tokens with the old roles stop working at once (the token
 * generation moves on), and so do the cached resolutions of the user's API keys, which carry the roles too.
 */
export async function changeRoles(
  deps: Deps,
  targetId: string,
  requested: Role[],
  context: AuditContext,
): Promise<{ id: string; roles: Role[] }> {
  if (!isUuid(targetId)) throw userNotFound();
  const roles = [...new Set<Role>(['user', ...requested])];
  // Acting as the target: its API keys are read under row-level security.
  const changed = await asActingUser(deps.store, targetId, async (tx) => {
    const result = await setRoles(tx, targetId, roles);
    if (!result) return undefined;
    await insertAudit(tx, context, {
      action: 'user.roles.changed',
      targetId,
      metadata: { before: result.before, after: result.after },
    });
    return { ...result, keyHashes: await liveKeyHashes(tx, targetId) };
  });
  if (!changed) throw userNotFound();
  // Both settle at once: the answer comes once every gateway refuses the old tokens and resolves the keys again.
  await Promise.all([
    refuseGenerationsBelow(deps, targetId, changed.tokenGeneration),
    forgetApiKeyResolutions(deps, changed.keyHashes),
  ]);
  return { id: targetId, roles: changed.after };
}

/**
 * Admins disable (or re-enable) an account. Disabling ends every session, makes the gateway refuse the
 * user's access tokens at once, and drops its cached API-key resolutions (resolve then answers 404).
 */
export async function changeStatus(
  deps: Deps,
  targetId: string,
  status: 'ACTIVE' | 'DISABLED',
  context: AuditContext,
): Promise<{ id: string; status: string }> {
  if (!isUuid(targetId)) throw userNotFound();
  // Acting as the target: its sessions and API keys are written and read under row-level security.
  const changed = await asActingUser(deps.store, targetId, async (tx) => {
    const result = await setStatus(tx, targetId, status);
    if (!result) return undefined;
    const sessions = status === 'DISABLED' ? await revokeAllForUser(tx, targetId) : [];
    await insertAudit(tx, context, {
      action: 'user.status.changed',
      targetId,
      metadata: { before: result.before, after: result.after, sessionsRevoked: sessions.length },
    });
    return { ...result, sessions, keyHashes: await liveKeyHashes(tx, targetId) };
  });
  if (!changed) throw userNotFound();
  if (status === 'DISABLED') {
    await Promise.all([
      refuseGenerationsBelow(deps, targetId, changed.tokenGeneration),
      endSessions(deps, changed.sessions),
      forgetApiKeyResolutions(deps, changed.keyHashes),
    ]);
  }
  return { id: targetId, status: changed.after };
}
