import { z } from 'zod';
import { validationFailed } from '@orrange/http';

/** Opaque pagination cursors: base64url JSON of the last row's sort key, validated when they come back. */
export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function decodeCursor<S extends z.ZodType>(schema: S, cursor: string | undefined): z.infer<S> | undefined {
  if (cursor === undefined) return undefined;
  try {
    return schema.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
  } catch {
    throw validationFailed([{ path: 'cursor', message: 'is not a cursor this endpoint issued' }]);
  }
}

export const bookCursor = z.object({ side: z.enum(['BUY', 'SELL']), price: z.string().regex(/^\d{1,20}(\.\d{1,2})?$/), seq: z.string().regex(/^\d{1,19}$/) }).strict();
export const seqCursor = z.object({ seq: z.string().regex(/^\d{1,19}$/) }).strict();
