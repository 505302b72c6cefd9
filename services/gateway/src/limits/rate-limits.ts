import { hash } from 'node:crypto';
import express, { type Request, type RequestHandler, type Response } from 'express';
import { ipKeyGenerator, rateLimit, type RateLimitInfo } from 'express-rate-limit';
import type { Redis } from 'ioredis';
import { AppError } from '@orrange/http';
import { gatewayErrors } from '../errors';
import { LeasedRedisStore } from './leased-redis-store';
import type { Logger } from '@orrange/logger';
import type { GatewayMetrics } from '../observability/metrics';

export interface RateLimitSettings {
  redis: Redis;
  prefix: string;
  perMinute: number;
  authPerMinute: number;
  loginAccountPerMinute: number;
  bodyLimitBytes: number;
  metrics: GatewayMetrics;
  logger: Logger;
}

const WINDOW_MS = 60_000;
const WINDOW_S = WINDOW_MS / 1000;
/** Clients whose partition key is remembered (see PartitionKeys): about a hundred bytes each. */
const PARTITION_KEYS_MAX = 10_000;
const AUTH_PATHS = new Set(['/api/v1/auth/login', '/api/v1/auth/register', '/api/v1/auth/refresh']);
const LOGIN_PATH = '/api/v1/auth/login';

// Case-insensitively: a service answers 404 to `/api/v1/auth/LOGIN`, but it is counted all the same, so no
// spelling of a limited route is ever a free attempt (other spellings are refused by canonicalPath).
const isAuthPost = (req: Request) => req.method === 'POST' && AUTH_PATHS.has(req.path.toLowerCase());
const isLogin = (req: Request) => req.method === 'POST' && req.path.toLowerCase() === LOGIN_PATH;
const clientIp = (req: Request) => ipKeyGenerator(req.ip ?? 'unknown');

/** The email of a login attempt, normalised and hashed: Redis never holds an address. */
function loginAccount(req: Request): string | undefined {
  const email = (req.body as { email?: unknown } | undefined)?.email;
  if (typeof email !== 'string' || !email.trim()) return undefined;
  return hash('sha256', email.trim().toLowerCase(), 'hex');
}

/**
 * The parsed body is sent on as JSON.stringify(body) (fixRequestBody). A body JSON.parse accepts but
 * JSON.stringify cannot write back (nesting deep enough to overflow the stack) is the client's fault: 400.
 */
function reserializable(body: unknown): AppError | undefined {
  try {
    JSON.stringify(body);
    return undefined;
  } catch {
    return new AppError(400, 'REQUEST.MALFORMED_JSON', 'The request body is nested too deeply.');
  }
}

/**
 * The partition key (`pk`) of each client's RateLimit-Policy, as express-rate-limit spells it (base64 of the first 12
 * hex digits of the SHA-256 of the limiter's key), hashed once per client seen lately instead of once per request:
 * the library's own draft-8 fields made a hash object per request and limiter, about 2 % of the gateway's CPU per
 * proxied order (profile of 2026-12-05).
 */
class PartitionKeys {
  private readonly byKey = new Map<string, string>();

  of(key: string): string {
    let pk = this.byKey.get(key);
    if (pk === undefined) {
      pk = Buffer.from(hash('sha256', key, 'hex').slice(0, 12)).toString('base64');
      if (this.byKey.size >= PARTITION_KEYS_MAX) this.byKey.clear();
      this.byKey.set(key, pk);
    }
    return pk;
  }
}

/** The IETF draft-8 RateLimit and RateLimit-Policy fields of one limiter's decision (several limiters append theirs). */
function writeRateLimitFields(res: Response, name: string, info: RateLimitInfo, pk: string): number {
  const resetS = info.resetTime ? Math.max(0, Math.ceil((info.resetTime.getTime() - Date.now()) / 1000)) : WINDOW_S;
  if (!res.headersSent) {
    res.append('RateLimit', `"${name}"; r=${info.remaining}; t=${resetS}`);
    res.append('RateLimit-Policy', `"${name}"; q=${info.limit}; w=${WINDOW_S}; pk=:${pk}:`);
  }
  return resetS;
}

/**
 * The rate limits, in order, all counted in Redis so that every gateway replica spends one budget (taken in
 * leases, see LeasedRedisStore):
 * per client (user id when authenticated, else IP), per IP on login/register/refresh, and per account on
 * login (which needs the small JSON body parsed here; the proxy re-streams it with fixRequestBody).
 * The per-client limiter lets requests through when Redis fails (availability); the auth limiters refuse
 * them (503), since they are what stands between an attacker and password guessing.
 */
export function rateLimits(settings: RateLimitSettings): RequestHandler[] {
  const limiter = (
    name: string,
    limit: number,
    key: (req: Request) => string | undefined,
    failOpen: boolean,
  ): RequestHandler => {
    // Where express-rate-limit leaves this limiter's decision on the request (each limiter its own).
    const decided = `rateLimit:${name}`;
    // The key, found once per request by the wrapper below (an IP behind trusted proxies, an email's hash).
    const keys = new WeakMap<Request, string>();
    const partitionKeys = new PartitionKeys();
    /** Writes the decision's fields; answers the seconds until the window resets, or undefined when none was made. */
    const fields = (req: Request, res: Response): number | undefined => {
      const info = (req as unknown as Record<string, RateLimitInfo | undefined>)[decided];
      return info && writeRateLimitFields(res, name, info, partitionKeys.of(info.key));
    };
    const handler = rateLimit({
      windowMs: WINDOW_MS,
      limit,
      identifier: name,
      // The draft-8 fields are written by `fields`, with each client's partition key hashed once.
      standardHeaders: false,
      legacyHeaders: false,
      requestPropertyName: decided,
      passOnStoreError: failOpen,
      keyGenerator: (req) => keys.get(req)!,
      store: new LeasedRedisStore(settings.redis, `${settings.prefix}:rl:${name}:`),
      logger: {
        error: (error, message) =>
          settings.logger.warn(message ?? 'rate limiter error', {
            limiter: name,
            error: error instanceof Error ? error.message : String(error),
          }),
        warn: (error, message) =>
          settings.logger.warn(message ?? 'rate limiter warning', {
            limiter: name,
            error: error instanceof Error ? error.message : String(error),
          }),
      },
      handler: (req, res, next) => {
        res.setHeader('Retry-After', String(fields(req, res) ?? WINDOW_S));
        settings.metrics.rateLimited.inc({ limiter: name });
        next(gatewayErrors.rateLimited());
      },
    });
    // Our own refusal passes through; anything else reaching `next` is the store failing.
    const toProblem = (error: unknown) => (error instanceof AppError ? error : gatewayErrors.rateLimitUnavailable());
    return (req, res, next) => {
      // A limiter that does not apply (the auth limiters, to everything but auth POSTs) is not entered at all: the
      // library's middleware is an async function of several awaits, per request and limiter.
      const found = key(req);
      if (found === undefined) return next();
      keys.set(req, found);
      Promise.resolve(
        handler(req, res, (error?: unknown) => {
          if (error !== undefined) return next(toProblem(error));
          fields(req, res);
          next();
        }),
      ).catch((error: unknown) => next(toProblem(error)));
    };
  };
  // No inflation: the body is re-sent as plain JSON, so a compressed one would reach the service mislabelled.
  const parseAuthBody = express.json({ limit: settings.bodyLimitBytes, strict: true, inflate: false });
  return [
    limiter(
      'client',
      settings.perMinute,
      (req) => (req.identity ? `user:${req.identity.userId}` : `ip:${clientIp(req)}`),
      true,
    ),
    limiter('auth-ip', settings.authPerMinute, (req) => (isAuthPost(req) ? clientIp(req) : undefined), false),
    (req, res, next) =>
      isAuthPost(req) ? parseAuthBody(req, res, (error?: unknown) => next(error ?? reserializable(req.body))) : next(),
    limiter(
      'login-account',
      settings.loginAccountPerMinute,
      (req) => (isLogin(req) ? loginAccount(req) : undefined),
      false,
    ),
  ];
}
