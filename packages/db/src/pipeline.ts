import pg from 'pg';

/** One statement of a pipeline. */
export interface Statement {
  sql: string;
  params?: unknown[];
}

// pg's own mapping of JavaScript values to protocol text (dates, buffers, arrays, JSON), as its queries use it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { prepareValue } = require('pg/lib/utils') as { prepareValue(value: unknown): unknown };

/**
 * Sends statements in one write and reads their results in one round trip. Postgres's extended protocol allows
 * that: each statement goes as Parse/Bind/Describe/Execute and one Sync ends them all. The server still runs
 * them one after the other, and each takes its snapshot when its turn comes (at Bind), so a statement that
 * waits for a lock delays the next one's snapshot: a read sent together with the lock that guards it sees
 * everything the previous holder committed, as if it had been sent after the lock was granted. A BEGIN among
 * them opens a real transaction block that outlasts the Sync ("Pipelining" in the protocol docs). If one
 * fails, the server skips the rest up to the Sync and the error comes back; in a transaction block, the
 * caller's ROLLBACK ends it, as after any failed statement.
 *
 * On the kind of machine we run on a round trip costs far more in wake-ups and system calls than in SQL,
 * which is worth the reach into pg's Query: its `submit` is where a statement's messages are written (public
 * in pg's typings), and the results of all statements come back to it as one multi-result.
 */
export function queryPipelined(client: pg.ClientBase, statements: Statement[]): Promise<pg.QueryResult[]> {
  const last = statements[statements.length - 1];
  if (!last) return Promise.resolve([]);
  const before = statements.slice(0, -1);
  return new Promise((resolve, reject) => {
    const query = new pg.Query({
      text: last.sql,
      values: last.params,
      // Extended protocol even without parameters: a simple Query message would carry its own Sync.
      queryMode: 'extended',
      callback: (error: Error | null, results: pg.QueryResult | pg.QueryResult[]) => {
        if (error) return reject(error);
        const all = Array.isArray(results) ? results : [results];
        if (all.length !== statements.length) return reject(new Error(`pipeline of ${statements.length} statements returned ${all.length} results`));
        resolve(all);
      },
    } as pg.QueryConfig);
    const submitLast = query.submit.bind(query);
    query.submit = (connection) => {
      // Map every value before writing anything: a value pg cannot send fails the pipeline before it starts.
      let mapped: unknown[][];
      try {
        mapped = statements.map((s) => (s.params ?? []).map(prepareValue));
      } catch (error) {
        return error as Error;
      }
      const protocol = connection as unknown as ProtocolWriter;
      protocol.stream.cork();
      try {
        before.forEach((s, i) => {
          protocol.parse({ text: s.sql });
          protocol.bind({ values: mapped[i]! });
          protocol.describe({ type: 'P', name: '' });
          protocol.execute({});
        });
        return submitLast(connection);
      } finally {
        protocol.stream.uncork();
      }
    };
    void client.query(query as never);
  });
}

/** The part of pg's Connection that writes protocol messages (not in its typings). */
interface ProtocolWriter {
  stream: { cork(): void; uncork(): void };
  parse(message: { text: string }): void;
  bind(message: { values: unknown[] }): void;
  describe(message: { type: 'P'; name: string }): void;
  execute(message: Record<string, never>): void;
}
