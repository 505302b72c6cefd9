import { createHash } from 'node:crypto';
import express, { type Request, type RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
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
  return createHash('sha256').update(email.trim().toLowerCase()).digest('hex');
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
    const handler = rateLimit({
      windowMs: WINDOW_MS,
      limit,
      identifier: name,
      standardHeaders: 'draft-8',
      legacyHeaders: false,
      passOnStoreError: failOpen,
      skip: (req) => key(req) === undefined,
      keyGenerator: (req) => key(req)!,
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
      handler: (_req, _res, next) => {
        settings.metrics.rateLimited.inc({ limiter: name });
        next(gatewayErrors.rateLimited());
      },
    });
    // Our own refusal passes through; anything else reaching `next` is the store failing.
    const toProblem = (error: unknown) => (error instanceof AppError ? error : gatewayErrors.rateLimitUnavailable());
    return (req, res, next) => {
      Promise.resolve(
        handler(req, res, (error?: unknown) => next(error === undefined ? undefined : toProblem(error))),
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
