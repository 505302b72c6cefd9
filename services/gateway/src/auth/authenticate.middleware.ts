import type { RequestHandler } from 'express';
import { AppError, IDENTITY_HEADER, signIdentity, type Identity } from '@orrange/http';
import { enrichContext } from '@orrange/logger';
import { gatewayErrors } from '../errors';
import type { GatewayMetrics } from '../observability/metrics';
import type { ApiKeyResolver } from './api-key-resolver';
import type { TokenChecker } from './token-checker';

const INTERNAL_HEADER_PREFIX = 'x-orrange-';
/**
 * The one `x-orrange-*` header a client sends on purpose: custody's webhook signature (API.md, "Money in and out").
 * It speaks for nobody (trade-execution checks it against the body with CUSTODY_WEBHOOK_SECRET), so it passes.
 */
const CLIENT_HEADERS = new Set(['x-orrange-signature']);

/** Clients never speak for the gateway: every other `x-orrange-*` header they send is dropped before anything else reads it. */
export const stripInternalHeaders: RequestHandler = (req, _res, next) => {
  for (const name of Object.keys(req.headers)) {
    if (name.startsWith(INTERNAL_HEADER_PREFIX) && !CLIENT_HEADERS.has(name)) delete req.headers[name];
  }
  next();
};

export interface AuthenticateDeps {
  tokens: TokenChecker;
  apiKeys: ApiKeyResolver;
  internalTokenSecret: string;
  metrics: GatewayMetrics;
}

/**
 * `Authorization: Bearer <jwt>` or `X-API-Key: <key>` → a signed `x-orrange-identity` header for the
 * service. No credentials pass without identity (public endpoints; the services refuse the rest).
 * Bad credentials are refused with 401 by `refuseBadCredentials`, after the rate limits: so a client
 * guessing tokens or keys spends its per-address budget and meets 429 like anyone else.
 */
export function authenticate(deps: AuthenticateDeps): RequestHandler {
  const signed = new SignedIdentities(deps.internalTokenSecret);
  return async (req, res, next) => {
    const authorization = req.header('authorization');
    const apiKey = req.header('x-api-key');
    if (authorization === undefined && apiKey === undefined) return next();
    let identity: Identity;
    try {
      identity = await identify(deps, authorization, apiKey);
    } catch (error) {
      if (!(error instanceof AppError && error.status === 401)) throw error;
      deps.metrics.authFailures.inc({ reason: authorization !== undefined ? 'token' : 'api-key' });
      res.locals[BAD_CREDENTIALS] = error;
      return next();
    }
    req.identity = identity;
    req.headers[IDENTITY_HEADER] = signed.for(identity);
    enrichContext({ userId: identity.userId });
    next();
  };
}

const BAD_CREDENTIALS = 'badCredentials';

export const refuseBadCredentials: RequestHandler = (_req, res, next) => {
  next(res.locals[BAD_CREDENTIALS] as AppError | undefined);
};

function identify(
  deps: AuthenticateDeps,
  authorization: string | undefined,
  apiKey: string | undefined,
): Promise<Identity> {
  if (authorization !== undefined) {
    const match = /^Bearer ([A-Za-z0-9_.~+/=-]+)$/i.exec(authorization.trim());
    if (!match) return Promise.reject(gatewayErrors.invalidToken());
    return deps.tokens.check(match[1]!);
  }
  return deps.apiKeys.resolve(apiKey ?? '');
}

/** Signed identities kept per identity; each is reused while it has at least this long to live. */
const SIGNED_REUSE_MIN_LIFE_MS = 30_000;
const SIGNED_IDENTITIES_MAX = 10_000;

/**
 * One signed identity header per identity, reused for a while instead of signed on every request (the
 * identity itself is still established per request: token, revocation and API key checks come first). A
 * reused header always has SIGNED_REUSE_MIN_LIFE_MS or more of its 60 s left when it is sent.
 */
class SignedIdentities {
  private readonly cache = new Map<string, { header: string; signedAtMs: number }>();

  constructor(private readonly secret: string) {}

  for(identity: Identity): string {
    const key = JSON.stringify([identity.userId, identity.roles, identity.scopes, identity.via]);
    const now = Date.now();
    const known = this.cache.get(key);
    // The token's exp is whole seconds after signing: 60 s minus up to one second of rounding.
    if (known && now - known.signedAtMs < 60_000 - 1_000 - SIGNED_REUSE_MIN_LIFE_MS) return known.header;
    const header = signIdentity(identity, this.secret);
    if (this.cache.size >= SIGNED_IDENTITIES_MAX) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, { header, signedAtMs: now });
    return header;
  }
}
