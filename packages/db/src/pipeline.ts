import { createHash } from 'node:crypto';
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
    let connection: ProtocolWriter | undefined;
    /** Statements of `before` this pipeline parses under a name: prepared on the connection once it succeeded. */
    const parsing: Array<{ name: string; text: string }> = [];
    const query = new pg.Query({
      text: last.sql,
      values: last.params,
      // Extended protocol even without parameters: a simple Query message would carry its own Sync.
      queryMode: 'extended',
      callback: (error: Error | null, results: pg.QueryResult | pg.QueryResult[]) => {
        if (error) {
          // Which of this pipeline's Parse messages the server took is unknown: its names are not used again.
          if (connection) namesForget(connection);
          return reject(error);
        }
        for (const p of parsing) connection!.parsedStatements[p.name] = p.text;
        const all = Array.isArray(results) ? results : [results];
        if (all.length !== statements.length)
          return reject(new Error(`pipeline of ${statements.length} statements returned ${all.length} results`));
        resolve(all);
      },
    } as pg.QueryConfig);
    const submitLast = query.submit.bind(query);
    query.submit = (pgConnection) => {
      // Map every value before writing anything: a value pg cannot send fails the pipeline before it starts.
      let mapped: unknown[][];
      try {
        mapped = statements.map((s) => (s.params ?? []).map(prepareValue));
      } catch (error) {
        return error as Error;
      }
      const protocol = pgConnection as unknown as ProtocolWriter;
      connection = protocol;
      protocol.stream.cork();
      try {
        const parsed = (name: string) =>
          protocol.parsedStatements[name] !== undefined || parsing.some((p) => p.name === name);
        before.forEach((s, i) => {
          const name = statementName(protocol, s);
          if (name === undefined) protocol.parse({ text: s.sql });
          else if (!parsed(name)) {
            protocol.parse({ name, text: s.sql });
            parsing.push({ name, text: s.sql });
          }
          protocol.bind({ statement: name, values: mapped[i]! });
          protocol.describe({ type: 'P', name: '' });
          protocol.execute({});
        });
        const lastName = statementName(protocol, last);
        // The same text earlier in this pipeline was parsed already: pg must not send its Parse again.
        if (lastName !== undefined && parsing.some((p) => p.name === lastName))
          protocol.submittedNamedStatements[lastName] = last.sql;
        (query as unknown as { name?: string }).name = lastName;
        return submitLast(pgConnection);
      } finally {
        protocol.stream.uncork();
      }
    };
    void client.query(query as never);
  });
}

/**
 * Statements with parameters are prepared once per connection, under a name derived from their text: Postgres
 * then parses and plans each of them once per connection (and may keep a generic plan) instead of at every
 * execution, which for the order path's few, long statements was a large part of their cost. A pipeline that
 * fails leaves it unknown which of its statements the server prepared, so the connection's names move to a new
 * generation; after NAME_GENERATIONS_MAX failures it goes back to unnamed statements.
 */
const NAME_GENERATIONS_MAX = 16;
/** Texts whose names are remembered (the services have a few dozen statements with parameters). */
const NAMED_TEXTS_MAX = 2_000;
const nameOfText = new Map<string, string>();
const generations = new WeakMap<object, number>();

function statementName(connection: object, statement: Statement): string | undefined {
  if (!statement.params || statement.params.length === 0) return undefined;
  const generation = generations.get(connection) ?? 0;
  if (generation >= NAME_GENERATIONS_MAX) return undefined;
  let hash = nameOfText.get(statement.sql);
  if (hash === undefined) {
    hash = createHash('sha1').update(statement.sql).digest('hex').slice(0, 24);
    if (nameOfText.size < NAMED_TEXTS_MAX) nameOfText.set(statement.sql, hash);
  }
  return `o${generation}_${hash}`;
}

function namesForget(connection: object): void {
  generations.set(connection, (generations.get(connection) ?? 0) + 1);
}

/** The part of pg's Connection that writes protocol messages (not in its typings). */
interface ProtocolWriter {
  stream: { cork(): void; uncork(): void };
  /** pg's record of the statements prepared on this connection, by name, and of those whose Parse is on its way. */
  parsedStatements: Record<string, string>;
  submittedNamedStatements: Record<string, string>;
  parse(message: { name?: string; text: string }): void;
  bind(message: { statement?: string; values: unknown[] }): void;
  describe(message: { type: 'P'; name: string }): void;
  execute(message: Record<string, never>): void;
}
