import type { ClientRequest, IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import { gatewayErrors } from '../errors';

/**
 * Past this declared size a refused body is not read at all: the connection closes after the 413. Below it,
 * the body is read and thrown away after the 413 (Node does that for an answered request), so that the client,
 * still writing, is not cut off by a reset before it can read the answer.
 */
const DISCARD_BYTES_MAX = 16 * 1024 * 1024;

/** A request's declared body size: no Content-Length counts as 0 (Node's parser already refused one not a number). */
const declaredBytes = (req: IncomingMessage) => Number(req.headers['content-length'] ?? 0);

/**
 * For a request refused before its body was read (a 413 here, a shed 503): whether its connection must close after
 * the answer rather than have Node read the body and throw it away (see DISCARD_BYTES_MAX).
 */
export function closesAfterRefusal(req: IncomingMessage): boolean {
  return declaredBytes(req) > DISCARD_BYTES_MAX;
}

/**
 * Refuses a body whose declared Content-Length is over the limit before a byte of it reaches a service. A body
 * without Content-Length (chunked) is counted while it streams to the upstream: see `countStreamedBody`.
 */
export function bodySizeGuard(limitBytes: number): RequestHandler {
  return (req, res, next) => {
    if (declaredBytes(req) > limitBytes) {
      if (closesAfterRefusal(req)) res.setHeader('Connection', 'close');
      return next(gatewayErrors.bodyTooLarge());
    }
    next();
  };
}

export class BodyTooLargeError extends Error {
  readonly code = 'BODY_TOO_LARGE';
}

/**
 * Called when the proxy starts streaming an undeclared-length body upstream: past the limit the upstream
 * request is destroyed with BodyTooLargeError, which the proxy's error handler answers with 413.
 */
export function countStreamedBody(req: IncomingMessage, proxyReq: ClientRequest, limitBytes: number): void {
  if (req.headers['content-length'] !== undefined || req.readableEnded) return;
  let received = 0;
  const count = (chunk: Buffer) => {
    received += chunk.length;
    if (received <= limitBytes) return;
    req.off('data', count);
    req.unpipe(proxyReq);
    proxyReq.destroy(new BodyTooLargeError('request body over the limit'));
  };
  req.on('data', count);
}
