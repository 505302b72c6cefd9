import type { KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { RequestHandler } from 'express';
import { enrichContext } from '@orrange/logger';
import { forbidden, unauthorized } from './errors';
import { secretKey } from './secret-key';

/** `merchant`: an account with the higher open-order and open-trade limits venues give verified merchants (API.md). */
export const ROLES = ['user', 'arbitrator', 'admin', 'merchant'] as const;
export type Role = (typeof ROLES)[number];
/**
 * Roles whose powers act only through a signed-in session: an API key of an admin or arbitrator acts as a
 * plain user (see verifyIdentity), so a leaked bot key never resolves a dispute or changes a role.
 */
export const SESSION_ONLY_ROLES: readonly Role[] = ['arbitrator', 'admin'];
/** API-key scopes: `read` (GETs), `trade` (everything that creates or moves something), `withdraw` (funds out, on top of `trade`). */
export const SCOPES = ['read', 'trade', 'withdraw'] as const;
export type Scope = (typeof SCOPES)[number];

/** Who is calling, as the gateway established it. `scopes` is null for a full session (JWT), a list for an API key. */
export interface Identity {
  userId: string;
  roles: Role[];
  scopes: Scope[] | null;
  /** `service` marks service-to-service calls (e.g. the gateway resolving an API key). */
  via: 'jwt' | 'api-key' | 'service';
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      identity?: Identity;
    }
  }
}

/** The header the gateway forwards identity in. Clients' copies are stripped at the gateway. */
export const IDENTITY_HEADER = 'x-orrange-identity';
const INTERNAL_AUDIENCE = 'orrange-internal';
const INTERNAL_ISSUER = 'orrange-gateway';
const INTERNAL_TTL_SECONDS = 60;

/**
 * Signs an identity for one hop from the gateway to a service. Services verify it with the shared internal
 * secret, so a service reached directly with no header or a forged one refuses the request.
 */
export function signIdentity(identity: Identity, secret: string | KeyObject): string {
  return jwt.sign({ roles: identity.roles, scopes: identity.scopes, via: identity.via }, secretKey(secret), {
    algorithm: 'HS256',
    subject: identity.userId,
    audience: INTERNAL_AUDIENCE,
    issuer: INTERNAL_ISSUER,
    expiresIn: INTERNAL_TTL_SECONDS,
  });
}

/**
 * The identity a service acts on. An API key never carries the session-only roles (admin, arbitrator), whatever
 * its owner holds and whatever the gateway forwarded: every role check in every service sees a plain user.
 */
export function verifyIdentity(token: string, secret: string | KeyObject): Identity {
  const claims = jwt.verify(token, secretKey(secret), {
    algorithms: ['HS256'],
    audience: INTERNAL_AUDIENCE,
    issuer: INTERNAL_ISSUER,
  }) as jwt.JwtPayload;
  if (typeof claims.sub !== 'string' || !Array.isArray(claims.roles)) throw new Error('malformed identity');
  const via = claims.via === 'api-key' || claims.via === 'service' ? claims.via : 'jwt';
  const roles = (claims.roles as Role[]).filter((role) => via !== 'api-key' || !SESSION_ONLY_ROLES.includes(role));
  return { userId: claims.sub, roles, scopes: (claims.scopes as Scope[] | null) ?? null, via };
}

/** Verified identity tokens a service remembers (the gateway reuses one token per identity for a while). */
const VERIFIED_IDENTITIES_MAX = 10_000;

/**
 * Reads the forwarded identity if there is one; a present but invalid one is a 401, never ignored. A token
 * that verified once is remembered until its `exp` (its signature and claims cannot change), so repeated
 * requests skip the HMAC and the JSON parsing; an expired one is verified again, and fails.
 */
export function authenticate(secret: string): RequestHandler {
  const key = secretKey(secret);
  const verified = new Map<string, { identity: Identity; expiresAtMs: number }>();
  const verifyRemembered = (token: string): Identity => {
    const known = verified.get(token);
    if (known && known.expiresAtMs > Date.now()) return known.identity;
    if (known) verified.delete(token);
    const identity = verifyIdentity(token, key);
    const exp = (jwt.decode(token) as jwt.JwtPayload | null)?.exp;
    if (typeof exp === 'number') {
      if (verified.size >= VERIFIED_IDENTITIES_MAX) verified.delete(verified.keys().next().value!);
      verified.set(token, { identity, expiresAtMs: exp * 1000 });
    }
    return identity;
  };
  return (req, _res, next) => {
    const header = req.header(IDENTITY_HEADER);
    if (!header) return next();
    try {
      // A copy: a handler changing req.identity never changes what the next request sees.
      const identity = verifyRemembered(header);
      req.identity = { ...identity, roles: [...identity.roles], scopes: identity.scopes && [...identity.scopes] };
    } catch {
      return next(unauthorized('The forwarded identity is not valid.'));
    }
    enrichContext({ userId: req.identity.userId });
    next();
  };
}

export function identityOf(req: { identity?: Identity }): Identity {
  if (!req.identity) throw unauthorized();
  return req.identity;
}

export const requireAuth: RequestHandler = (req, _res, next) => next(req.identity ? undefined : unauthorized());

/** For /internal/* routes: only another service (the gateway) may call them. */
export const requireService: RequestHandler = (req, _res, next) => {
  if (!req.identity) return next(unauthorized());
  next(req.identity.via === 'service' ? undefined : forbidden('Internal route.'));
};

export function hasRole(identity: Identity, ...roles: Role[]): boolean {
  return identity.roles.some((role) => roles.includes(role));
}

const sessionRequired = () => forbidden('This needs a signed-in session, not an API key.', 'AUTH.SESSION_REQUIRED');

/** Admin and arbitrator routes: an API key is told it needs a session (its identity holds neither role). */
export function requireRole(...roles: Role[]): RequestHandler {
  const sessionOnly = roles.every((role) => SESSION_ONLY_ROLES.includes(role));
  return (req, _res, next) => {
    if (!req.identity) return next(unauthorized());
    if (sessionOnly && req.identity.via === 'api-key') return next(sessionRequired());
    next(hasRole(req.identity, ...roles) ? undefined : forbidden('Your role does not allow this.'));
  };
}

/**
 * Only a signed-in session (a bearer token), never an API key whatever its scopes: account management,
 * admin and arbitrator actions.
 */
export const requireSession: RequestHandler = (req, _res, next) => {
  if (!req.identity) return next(unauthorized());
  next(req.identity.via === 'jwt' ? undefined : sessionRequired());
};

/** A session, or an API key holding `scope` (e.g. `withdraw`: funds leaving the platform). */
export function requireSessionOrScope(scope: Scope): RequestHandler {
  return (req, _res, next) => {
    const identity = req.identity;
    if (!identity) return next(unauthorized());
    if (identity.via === 'jwt' || identity.scopes?.includes(scope)) return next();
    next(forbidden(`This needs a signed-in session or an API key with the "${scope}" scope.`, 'AUTH.SCOPE_MISSING'));
  };
}

/**
 * API keys carry scopes: `read` for GETs, `trade` for anything that creates or moves something.
 * A full session (JWT) may do both.
 */
export const requireScopeForMethod: RequestHandler = (req, _res, next) => {
  const scopes = req.identity?.scopes;
  if (!scopes) return next();
  const needed: Scope = req.method === 'GET' || req.method === 'HEAD' ? 'read' : 'trade';
  next(
    scopes.includes(needed) ? undefined : forbidden(`This API key lacks the "${needed}" scope.`, 'AUTH.SCOPE_MISSING'),
  );
};
