import { AppError } from '@orrange/http';

/**
 * What a shed request is told to wait. One second: shedding means this process's in-flight cap for the route
 * is reached, and at the rates the stack carries (hundreds per second) a second frees many slots; clients
 * that add jitter (as they should) spread their retries over the next seconds.
 */
export const OVERLOAD_RETRY_AFTER_SECONDS = 1;

/** The gateway's own answers, each a problem+json with a stable code; none carries upstream internals. */
export const gatewayErrors = {
  upstreamUnavailable: () =>
    new AppError(502, 'UPSTREAM.UNAVAILABLE', 'The service behind this route could not be reached.'),
  noHealthyUpstream: () =>
    new AppError(503, 'UPSTREAM.UNAVAILABLE', 'The service behind this route is unavailable. Try again shortly.'),
  /** Shed at once, never forwarded (see shedOverload): the client retries after Retry-After, with its Idempotency-Key. */
  upstreamOverloaded: () =>
    new AppError(
      503,
      'UPSTREAM.OVERLOADED',
      'The service behind this route is busy. Retry after the time in Retry-After.',
      undefined,
      { 'Retry-After': String(OVERLOAD_RETRY_AFTER_SECONDS) },
    ),
  upstreamTimeout: () => new AppError(504, 'UPSTREAM.TIMEOUT', 'The service behind this route did not answer in time.'),
  bodyTooLarge: () => new AppError(413, 'REQUEST.TOO_LARGE', 'The request body is too large.'),
  invalidToken: () => new AppError(401, 'AUTH.INVALID_TOKEN', 'The access token is invalid or expired.'),
  invalidApiKey: () => new AppError(401, 'AUTH.INVALID_API_KEY', 'The API key is invalid or revoked.'),
  authUnavailable: () =>
    new AppError(503, 'AUTH.UNAVAILABLE', 'Credentials cannot be checked right now. Try again shortly.'),
  rateLimited: () => new AppError(429, 'RATE_LIMITED', 'Too many requests. Retry after the time in Retry-After.'),
  tooManyStreams: (max: number) =>
    new AppError(
      429,
      'STREAM.TOO_MANY',
      `At most ${max} live streams may be open per user: close one first.`,
      undefined,
      { 'Retry-After': '5' },
    ),
  streamUnavailable: () =>
    new AppError(503, 'STREAM.UNAVAILABLE', 'Live updates are unavailable right now. Try again shortly.', undefined, {
      'Retry-After': '1',
    }),
  rateLimitUnavailable: () =>
    new AppError(503, 'RATE_LIMIT.UNAVAILABLE', 'Rate limits cannot be checked right now. Try again shortly.'),
};
