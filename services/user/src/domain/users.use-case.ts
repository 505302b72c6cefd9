import { notFound, type Role } from '@orrange/http';
import { insertAudit, type AuditContext } from '../data/audit.repository';
import { isUuid } from '../data/sql';
import { findUserWithProfile, setRoles, updateProfile, type Profile } from '../data/users.repository';
import { refuseAccessTokensIssuedBefore, type Deps } from './deps';
import { publicStats } from './reputation';

const userNotFound = () => notFound('USER.NOT_FOUND', 'No such user.');

export async function getMe(deps: Deps, userId: string) {
  const user = await findUserWithProfile(deps.db, userId);
  if (!user) throw userNotFound();
  return { id: user.id, email: user.email, username: user.username, roles: user.roles, profile: user.profile, stats: publicStats(user.stats), createdAt: user.createdAt };
}

/** What anyone may see of a user: never the email. A malformed id is simply not found. */
export async function getPublicProfile(deps: Deps, id: string) {
  const user = isUuid(id) ? await findUserWithProfile(deps.db, id) : undefined;
  if (!user) throw userNotFound();
  return { id: user.id, username: user.username, profile: user.profile, stats: publicStats(user.stats), createdAt: user.createdAt };
}

export async function patchProfile(deps: Deps, userId: string, patch: Partial<Profile>): Promise<Profile> {
  const profile = await updateProfile(deps.db, userId, patch);
  if (!profile) throw userNotFound();
  return profile;
}

/** Admins set roles; `user` is always kept. Older access tokens (with the old roles) stop working at once. */
export async function changeRoles(deps: Deps, targetId: string, requested: Role[], context: AuditContext): Promise<{ id: string; roles: Role[] }> {
  if (!isUuid(targetId)) throw userNotFound();
  const roles = [...new Set<Role>(['user', ...requested])];
  const changed = await deps.db.transaction(async (tx) => {
    const result = await setRoles(tx, targetId, roles);
    if (!result) return undefined;
    await insertAudit(tx, context, { action: 'user.roles.changed', targetId, metadata: { before: result.before, after: result.after } });
    return result;
  });
  if (!changed) throw userNotFound();
  await refuseAccessTokensIssuedBefore(deps, targetId);
  return { id: targetId, roles: changed.after };
}
