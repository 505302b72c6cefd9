import type { z } from 'zod';
import { validationFailed } from './errors';

/** Opaque pagination cursors: base64url JSON of the last row's sort key, so clients never build them. */
export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** The sort key a cursor carries, validated by `schema`; no cursor → undefined; anything else → 400. */
export function decodeCursor<S extends z.ZodType>(schema: S, cursor: string | undefined): z.infer<S> | undefined {
  if (cursor === undefined) return undefined;
  try {
    return schema.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
  } catch {
    throw validationFailed([{ path: 'cursor', message: 'is not a cursor this endpoint issued' }]);
  }
}

/**
 * A page of rows read with one more than `limit` (the extra row says that a next page exists): at most `limit` rows,
 * and the cursor of the last one (its sort key by `cursorOf`), or null at the end.
 */
export function pageOf<T>(rows: T[], limit: number, cursorOf: (last: T) => unknown): { data: T[]; nextCursor: string | null } {
  const data = rows.slice(0, limit);
  const last = data[data.length - 1];
  return { data, nextCursor: rows.length > limit && last !== undefined ? encodeCursor(cursorOf(last)) : null };
}
