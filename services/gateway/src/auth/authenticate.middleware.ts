import type { RequestHandler } from 'express';
import { AppError, IDENTITY_HEADER, signIdentity, type Identity } from '@orrange/http';
import { enrichContext } from '@orrange/logger';
import { gatewayErrors } from '../errors';
import type { GatewayMetrics } from '../observability/metrics';
import type { ApiKeyResolver } from './api-key-resolver';
import type { TokenChecker } from './token-checker';

const INTERNAL_HEADER_PREFIX = 'x-orrange-';

/** Clients never speak for the gateway: every `x-orrange-*` header they send is dropped before anything else reads it. */
export const stripInternalHeaders: RequestHandler = (req, _res, next) => {
  for (const name of Object.keys(req.headers)) {
    if (name.startsWith(INTERNAL_HEADER_PREFIX)) delete req.headers[name];
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
 * service. Bad credentials are a 401 here; no credentials pass without identity (public endpoints; the
 * services refuse the rest).
 */
export function authenticate(deps: AuthenticateDeps): RequestHandler {
  return async (req, _res, next) => {
    const authorization = req.header('authorization');
    const apiKey = req.header('x-api-key');
    if (authorization === undefined && apiKey === undefined) return next();
    const identity = await identify(deps, authorization, apiKey).catch((error: unknown) => {
      if (error instanceof AppError && error.status === 401) deps.metrics.authFailures.inc({ reason: authorization !== undefined ? 'token' : 'api-key' });
      throw error;
    });
    req.identity = identity;
    req.headers[IDENTITY_HEADER] = signIdentity(identity, deps.internalTokenSecret);
    enrichContext({ userId: identity.userId });
    next();
  };
}

function identify(deps: AuthenticateDeps, authorization: string | undefined, apiKey: string | undefined): Promise<Identity> {
  if (authorization !== undefined) {
    const match = /^Bearer ([A-Za-z0-9_.~+/=-]+)$/i.exec(authorization.trim());
    if (!match) return Promise.reject(gatewayErrors.invalidToken());
    return deps.tokens.check(match[1]!);
  }
  return deps.apiKeys.resolve(apiKey ?? '');
}
