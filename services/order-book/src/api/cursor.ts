import { z } from 'zod';

export { encodeCursor, decodeCursor } from '@orrange/http';

export const bookCursor = z.object({ side: z.enum(['BUY', 'SELL']), price: z.string().regex(/^\d{1,20}(\.\d{1,2})?$/), seq: z.string().regex(/^\d{1,19}$/) }).strict();
export const seqCursor = z.object({ seq: z.string().regex(/^\d{1,19}$/) }).strict();
