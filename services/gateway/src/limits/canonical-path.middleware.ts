import type { RequestHandler } from 'express';
import { AppError } from '@orrange/http';

/** Characters that never need percent-encoding (RFC 3986 unreserved), plus the separators `/` and `\`. */
const NEEDLESSLY_ENCODED = /%(?:[46][1-9A-Fa-f]|[57][0-9Aa]|3[0-9]|2[DdEe]|5[Ff]|7[Ee]|2[Ff]|5[Cc])/;
const MALFORMED_ENCODING = /%(?![0-9A-Fa-f]{2})/;

/** Why a path is not in its one canonical spelling, or undefined when it is. */
export function nonCanonical(path: string): string | undefined {
  if (path.length > 1 && path.endsWith('/')) return 'a trailing slash';
  if (path.includes('//')) return 'an empty segment';
  if (path.includes('\\')) return 'a backslash';
  if (path.split('/').some((segment) => segment === '.' || segment === '..')) return 'a dot segment';
  if (MALFORMED_ENCODING.test(path)) return 'a malformed percent-encoding';
  if (NEEDLESSLY_ENCODED.test(path)) return 'a percent-encoded letter, digit or separator';
  return undefined;
}

/**
 * Every path has one spelling. The rate limits key on the path the gateway sees, and the services route
 * strictly and case-sensitively (@orrange/http serviceRouter), so a second spelling of a limited route
 * (`/api/v1/auth/login/`, `/api/v1/auth//login`, `/api/v1/auth/%6Cogin`) must not reach anything: it is
 * refused here, before credentials and limits, with the 404 a service would give it. Letter case is the
 * services' business (a path segment may be an id); the auth limits compare paths case-insensitively.
 */
export const canonicalPath: RequestHandler = (req, _res, next) => {
  const reason = nonCanonical(req.path);
  next(
    reason
      ? new AppError(
          404,
          'ROUTE.NOT_FOUND',
          `No route for ${req.method} ${req.path}: paths have one spelling, without ${reason}.`,
        )
      : undefined,
  );
};
