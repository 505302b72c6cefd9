import pg from 'pg';

/**
 * A transaction's first statement, sent in one write together with the BEGIN before it: one round trip
 * instead of two. Postgres's extended protocol allows that: BEGIN goes as Parse/Bind/Execute with no Sync,
 * the statement follows with its own Parse/Bind/Describe/Execute/Sync, and the one Sync ends the exchange.
 * A BEGIN run inside such a pipeline opens a real transaction block that outlasts the Sync (protocol docs,
 * "Pipelining"), so everything after it is inside the transaction as if BEGIN had gone alone. If the
 * statement fails, the block is left in the failed state and the caller's ROLLBACK ends it, as before.
 *
 * On the kind of machine we run on, a round trip costs far more in wake-ups and system calls than in SQL:
 * one fewer per transaction is worth the reach into pg's Query (its `submit` is the one place where the
 * messages of a statement are written, and it is public in pg's typings).
 */
export function queryAfterBegin(client: pg.PoolClient, begin: string, text: string, values: unknown[] | undefined): Promise<pg.QueryResult> {
  return new Promise((resolve, reject) => {
    const query = new pg.Query({
      text,
      values,
      // Extended protocol even without parameters: a simple Query message would carry its own Sync.
      queryMode: 'extended',
      callback: (error: Error | null, results: pg.QueryResult | pg.QueryResult[]) => {
        if (error) return reject(error);
        // Two results came back, BEGIN's and the statement's.
        const all = Array.isArray(results) ? results : [results];
        resolve(all[all.length - 1]!);
      },
    } as pg.QueryConfig);
    const submitStatement = query.submit.bind(query);
    query.submit = (connection) => {
      const protocol = connection as unknown as ProtocolWriter;
      protocol.stream.cork();
      try {
        protocol.parse({ text: begin });
        protocol.bind({});
        protocol.execute({});
        return submitStatement(connection);
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
  bind(message: Record<string, never>): void;
  execute(message: Record<string, never>): void;
}
