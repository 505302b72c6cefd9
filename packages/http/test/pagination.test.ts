import { z } from 'zod';
import { AppError, keyset, pageQuery, readPage } from '../src';

describe('keyset pagination', () => {
  const rows = Array.from({ length: 5 }, (_, i) => ({ n: 5 - i }));
  const byN = keyset(z.object({ n: z.number().int() }).strict(), (row: { n: number }) => ({ n: row.n }));
  const read = async (after: { n: number } | undefined, rowsMax: number) =>
    rows.filter((row) => after === undefined || row.n < after.n).slice(0, rowsMax);

  it('when a list is paged, then every row comes once, in order, and the last page says there is no next one', async () => {
    const seen: number[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await readPage(byN, { limit: 2, cursor }, read);
      seen.push(...page.data.map((row) => row.n));
      cursor = page.nextCursor ?? undefined;
      pages += 1;
    } while (cursor);
    expect(seen).toEqual([5, 4, 3, 2, 1]);
    expect(pages).toBe(3);
  });

  it('when a page holds exactly the rows left, then its nextCursor is null (no empty page after it)', async () => {
    expect(await readPage(byN, { limit: 5 }, read)).toEqual({ data: rows, nextCursor: null });
  });

  it('when the reader is asked, then for one row more than the limit', async () => {
    const asked: number[] = [];
    await readPage(byN, { limit: 3 }, async (_after, rowsMax) => {
      asked.push(rowsMax);
      return [];
    });
    expect(asked).toEqual([4]);
  });

  it('when a cursor was not issued by this list, then 400 VALIDATION.FAILED on cursor, before anything is read', async () => {
    const other = Buffer.from(JSON.stringify({ seq: '7' })).toString('base64url');
    for (const cursor of ['garbage', other, Buffer.from('not json').toString('base64url')]) {
      const reader = jest.fn(read);
      const error = await readPage(byN, { limit: 2, cursor }, reader).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({ status: 400, code: 'VALIDATION.FAILED' });
      expect(reader).not.toHaveBeenCalled();
    }
  });

  it('when the query is parsed, then limit is 1–100 with 20 by default, and nothing else is taken', () => {
    expect(pageQuery.parse({})).toEqual({ limit: 20 });
    expect(pageQuery.parse({ limit: '100', cursor: 'abc' })).toEqual({ limit: 100, cursor: 'abc' });
    for (const bad of [
      { limit: '0' },
      { limit: '101' },
      { limit: '2.5' },
      { cursor: '' },
      { cursor: 'x'.repeat(513) },
      { other: '1' },
    ])
      expect(pageQuery.safeParse(bad).success).toBe(false);
  });
});
