/** One field-level validation problem, as API.md's `errors: [{ path, message }]`. */
export interface FieldError {
  path: string;
  message: string;
}

/**
 * Every error a client may see. `code` is the stable machine string of API.md (`ORDER.NOT_FOUND`),
 * `detail` is safe to show. Anything that is not an AppError is rendered as an opaque 500.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly errors?: FieldError[],
    readonly headers?: Record<string, string>,
  ) {
    super(detail);
    this.name = 'AppError';
  }
}

export const badRequest = (code: string, detail: string, errors?: FieldError[]) =>
  new AppError(400, code, detail, errors);
export const validationFailed = (errors: FieldError[]) =>
  new AppError(400, 'VALIDATION.FAILED', 'The request is not valid.', errors);
export const unauthorized = (detail = 'Missing or invalid credentials.', code = 'AUTH.UNAUTHORIZED') =>
  new AppError(401, code, detail);
export const forbidden = (detail = 'You are not allowed to do this.', code = 'AUTH.FORBIDDEN') =>
  new AppError(403, code, detail);
export const notFound = (code: string, detail = 'Not found.') => new AppError(404, code, detail);
export const conflict = (code: string, detail: string) => new AppError(409, code, detail);
export const unprocessable = (code: string, detail: string) => new AppError(422, code, detail);
