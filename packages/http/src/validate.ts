import { isPositiveDecimal, toUnits } from '@orrange/money';
import type { z } from 'zod';
import { validationFailed, type FieldError } from './errors';

export function toFieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.') || '(body)', message: issue.message }));
}

/** Parses untrusted input or throws 400 VALIDATION.FAILED listing every problem. Schemas should be `.strict()`. */
export function parse<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationFailed(toFieldErrors(result.error));
  return result.data;
}

/**
 * The one way a decimal from a request becomes minor units, called at the API edge so that use cases take units and
 * never the wire's strings: a decimal string above zero with at most `scale` decimals (no sign, no exponent), else
 * 400 VALIDATION.FAILED naming the field `path`. Where the scale is the body's own (its asset) a schema may check
 * the field first, to list every field's problem at once; where it belongs to a record the use case loads (an ad,
 * a dispute), the route hands the use case `(asset) => wireUnits(...)`.
 */
export function wireUnits(value: string, scale: number, path: string): bigint {
  if (!isPositiveDecimal(value, scale))
    throw validationFailed([{ path, message: `must be a positive decimal string with at most ${scale} decimals` }]);
  return toUnits(value, scale);
}
