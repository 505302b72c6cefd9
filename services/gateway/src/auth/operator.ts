import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { AppError } from '@orrange/http';

export interface OperatorSettings {
  /** OPERATOR_TOKEN: when set, operator pages need `Authorization: Bearer <it>`. */
  token: string | undefined;
  nodeEnv: string;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Who may read the operator pages (`/metrics`, `/health` with every check): the holder of OPERATOR_TOKEN, compared
 * in constant time. Without a token configured, everyone outside production (a laptop, the tests) and nobody in
 * production: metrics and per-replica checks describe the deployment, so they are never public.
 */
export function operatorCheck(settings: OperatorSettings): (req: Request) => boolean {
  const expected = settings.token === undefined ? undefined : digest(settings.token);
  const open = expected === undefined && settings.nodeEnv !== 'production';
  return (req) => {
    if (open) return true;
    if (!expected) return false;
    const presented = /^Bearer (.+)$/.exec(req.header('authorization') ?? '')?.[1];
    return presented !== undefined && timingSafeEqual(digest(presented), expected);
  };
}

/** Refuses everyone but operators (see operatorCheck) with 401 AUTH.OPERATOR_REQUIRED. */
export function requireOperator(isOperator: (req: Request) => boolean): RequestHandler {
  return (req, _res, next) =>
    next(
      isOperator(req)
        ? undefined
        : new AppError(
            401,
            'AUTH.OPERATOR_REQUIRED',
            'This page is for operators: send the operator token (OPERATOR_TOKEN) as a bearer token.',
          ),
    );
}
