import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '@orrange/logger';
import { runWithContext } from '@orrange/logger';

const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A request's id: the client's X-Request-Id when it is sane, a new one otherwise. */
export function requestIdFor(incoming: string | string[] | undefined): string {
  return typeof incoming === 'string' && CLIENT_REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/** Echoes a sane client X-Request-Id or makes one, and runs the rest of the request inside its context. */
export function requestContext(): RequestHandler {
  return (req, res, next) => {
    const requestId = requestIdFor(req.header('x-request-id'));
    req.headers['x-request-id'] = requestId;
    res.setHeader('X-Request-Id', requestId);
    runWithContext({ requestId }, next);
  };
}

/** One access line per request, written when the response is finished. */
export function accessLog(logger: Logger): RequestHandler {
  if (!logger.isLevelEnabled('info')) return (_req, _res, next) => next();
  return (req, res, next) => {
    const startedAt = performance.now();
    res.on('finish', () => {
      logger.info('request', {
        method: req.method,
        path: req.originalUrl.split('?')[0],
        status: res.statusCode,
        durationMs: Math.round((performance.now() - startedAt) * 100) / 100,
        userId: req.identity?.userId,
      });
    });
    next();
  };
}
