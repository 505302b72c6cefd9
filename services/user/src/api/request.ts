import type { Request } from 'express';
import { requireSession } from '@orrange/http';
import type { AuditContext } from '../data/audit.repository';

/** Who asked and from where, for the audit log. `req.ip` honours the app's explicit `trust proxy`. */
export function auditContext(req: Request): AuditContext {
  return { actorId: req.identity?.userId ?? null, ip: req.ip ?? null, requestId: req.header('x-request-id') ?? null };
}

/**
 * Account management (API keys, payment methods, roles) needs a signed-in session: an API key must not
 * mint more keys or read payment details, whatever its scopes.
 */
export { requireSession };
