import { z } from 'zod';
import { validationFailed } from './errors';

/**
 * Keyset pagination, written once for every list of the API (API.md, "Pagination"): `limit` 1–100 (20 when
 * absent) and an opaque `cursor`, answered with `{ data, nextCursor }`. A cursor is base64url JSON of the last
 * row's sort key, so clients never build one, and one this list did not issue is a 400.
 */
export const PAGE_LIMIT_DEFAULT = 20;
export const PAGE_LIMIT_MAX = 100;
/** Every cursor issued is a few dozen characters; anything much longer was not issued here. */
const CURSOR_CHARS_MAX = 512;

/** The query fields of a list, spread into an endpoint's query schema beside its own filters. */
export const pageFields = {
  limit: z.coerce.number().int().min(1).max(PAGE_LIMIT_MAX).default(PAGE_LIMIT_DEFAULT),
  cursor: z.string().min(1).max(CURSOR_CHARS_MAX).optional(),
};

/** The query of a list without filters. */
export const pageQuery = z.object(pageFields).strict();

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

/** How a list is ordered: the sort key its cursors carry (checked by `schema` when one comes back) and a row's key. */
export interface Keyset<Row, Key> {
  schema: z.ZodType<Key>;
  keyOf: (row: Row) => Key;
}

export function keyset<Row, S extends z.ZodType>(
  schema: S,
  keyOf: (row: Row) => z.output<S>,
): Keyset<Row, z.output<S>> {
  return { schema: schema as z.ZodType<z.output<S>>, keyOf };
}

/**
 * One page of a list: the cursor decoded to the key to read after (undefined on the first page), `read` asked for
 * one row more than `limit` (the extra row says that a next page exists), and the last row's key as `nextCursor`,
 * or null at the end.
 */
export async function readPage<Row, Key>(
  keys: Keyset<Row, Key>,
  query: { limit: number; cursor?: string | undefined },
  read: (after: Key | undefined, rowsMax: number) => Promise<Row[]>,
): Promise<Page<Row>> {
  const rows = await read(decodeCursor(keys.schema, query.cursor), query.limit + 1);
  const data = rows.slice(0, query.limit);
  const last = data[data.length - 1];
  return { data, nextCursor: rows.length > query.limit && last !== undefined ? encodeCursor(keys.keyOf(last)) : null };
}

/** A page with each row turned into what the answer shows. */
export function pageView<Row, View>(page: Page<Row>, view: (row: Row) => View): Page<View> {
  return { data: page.data.map(view), nextCursor: page.nextCursor };
}

function encodeCursor(key: unknown): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

function decodeCursor<Key>(schema: z.ZodType<Key>, cursor: string | undefined): Key | undefined {
  if (cursor === undefined) return undefined;
  try {
    return schema.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
  } catch {
    throw validationFailed([{ path: 'cursor', message: 'is not a cursor this endpoint issued' }]);
  }
}
