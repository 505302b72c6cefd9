import type { ServerResponse } from 'node:http';
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { Logger } from '@orrange/logger';
import { currentContext } from '@orrange/logger';
import { isConnectionError, sqlState } from '@orrange/db';
import { AppError } from './errors';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
/** The header as express's `type()` + `send()` wrote it: clients see this exact value. */
const PROBLEM_CONTENT_TYPE_HEADER = `${PROBLEM_CONTENT_TYPE}; charset=utf-8`;

/**
 * Always through `res.send`: the idempotency middlewares hook it to store a keyed request's answer before it goes out
 * (a 4xx replayed to a retry, a 5xx freeing the key). The content type is set whole beforehand, so that send looks
 * up no MIME type.
 */
export function sendProblem(res: Response, error: AppError): void {
  if (res.headersSent) return;
  setProblemHeaders(res, error);
  res.status(error.status).send(problemJson(error, currentContext().requestId ?? res.getHeader('x-request-id')));
}

/**
 * Answers a problem on a bare node response, outside express and its middlewares: for a server that must refuse a
 * request before its framework sees it (the gateway's load shedding). The same body and content type as sendProblem.
 */
export function endWithProblem(res: ServerResponse, error: AppError, requestId: string): void {
  setProblemHeaders(res, error);
  const body = problemJson(error, requestId);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.statusCode = error.status;
  res.end(body);
}

/** The error's own headers (e.g. Retry-After) and the problem's content type. */
function setProblemHeaders(res: ServerResponse, error: AppError): void {
  for (const [name, value] of Object.entries(error.headers ?? {})) res.setHeader(name, value);
  res.setHeader('Content-Type', PROBLEM_CONTENT_TYPE_HEADER);
}

/** The problem document (RFC 9457) of an error, as sent. */
function problemJson(error: AppError, requestId: unknown): string {
  return JSON.stringify({
    type: `https://orrange.dev/problems/${error.code.toLowerCase().replace(/[._]/g, '-')}`,
    title: TITLES[error.status] ?? 'Error',
    status: error.status,
    detail: error.detail,
    code: error.code,
    requestId,
    ...(error.errors ? { errors: error.errors } : {}),
  });
}

/** Maps the body parser's own failures (bad JSON, too large, wrong charset) to client errors. */
function fromBodyParser(error: unknown): AppError | undefined {
  const type = (error as { type?: unknown } | null)?.type;
  switch (type) {
    case 'entity.too.large':
      return new AppError(413, 'REQUEST.TOO_LARGE', 'The request body is too large.');
    case 'entity.parse.failed':
      return new AppError(400, 'REQUEST.MALFORMED_JSON', 'The request body is not valid JSON.');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new AppError(415, 'REQUEST.UNSUPPORTED_ENCODING', 'The request body encoding is not supported.');
    case 'request.aborted':
      return new AppError(400, 'REQUEST.ABORTED', 'The request was aborted.');
    default:
      return undefined;
  }
}

/** Seconds a client should wait before trying again while the primary database is away. */
const DATABASE_RETRY_AFTER_S = 5;

/**
 * The primary database out of reach (down, failing over, refusing connections) once the pool manager's retries
 * gave up, or a write that reached a server in recovery: the request changed nothing, and the same request
 * will work again once the primary is back (or a promoted replica is; see @orrange/db failover.ts).
 */
function fromDatabaseOutage(error: unknown): AppError | undefined {
  // 25006 read_only_sql_transaction, sent through pg or through a Prisma client over it.
  const readOnly = sqlState(error) === '25006';
  if (!readOnly && !isConnectionError(error)) return undefined;
  return new AppError(
    503,
    'SERVICE.DATABASE_UNAVAILABLE',
    'The database is unavailable for a moment. Try again shortly (a write with the same Idempotency-Key).',
    undefined,
    {
      'Retry-After': String(DATABASE_RETRY_AFTER_S),
    },
  );
}

/** The one place errors become HTTP answers: problem+json, and never a stack trace or SQL for a 5xx. */
export function problemHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const known = error instanceof AppError ? error : (fromBodyParser(error) ?? fromDatabaseOutage(error));
    if (known) {
      if (known.status >= 500) logger.error('request failed', { method: req.method, path: req.path, code: known.code });
      return sendProblem(res, known);
    }
    logger.error('unhandled error', {
      method: req.method,
      path: req.path,
      error: error instanceof Error ? error.stack : String(error),
    });
    sendProblem(
      res,
      new AppError(500, 'INTERNAL', 'Something went wrong on our side. The request id helps us find it.'),
    );
  };
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new AppError(404, 'ROUTE.NOT_FOUND', `No route for ${req.method} ${req.path}.`));
};
