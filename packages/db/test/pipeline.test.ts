import type pg from 'pg';
import { createTestDatabase, type TestDatabase } from '@orrange/testing';
import { Database } from '../src';

/** pg's Connection emits one readyForQuery per exchange with the server: one round trip. */
interface Observed {
  connection: { on(event: 'readyForQuery', listener: () => void): void };
}

describe('transactions: BEGIN rides with the first statement, statements go together (real Postgres)', () => {
  let testDb: TestDatabase;
  let db: Database;
  let roundTrips = 0;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    // One connection, so that every transaction reuses the one a previous test may have left in a bad state.
    db = new Database({
      url: testDb.url,
      name: 'begin',
      schema: 'begin',
      max: 1,
      retry: { baseDelayMs: 10, attemptsMax: 3 },
    });
    db.primary.on('connect', (client: pg.PoolClient) =>
      (client as unknown as Observed).connection.on('readyForQuery', () => (roundTrips += 1)),
    );
    await db.query('CREATE SCHEMA begin');
    await db.query('CREATE TABLE begin.item (id int PRIMARY KEY, qty int NOT NULL CHECK (qty >= 0))');
  });

  afterAll(async () => {
    await db.close();
    await testDb.drop();
  });

  beforeEach(async () => {
    await db.query('TRUNCATE item');
    roundTrips = 0;
  });

  async function counted<T>(work: () => Promise<T>): Promise<{ result: T; roundTrips: number }> {
    const before = roundTrips;
    const result = await work();
    return { result, roundTrips: roundTrips - before };
  }

  it('when a transaction sends two statements, then it takes three round trips (BEGIN with the first, the second, COMMIT) and both commit', async () => {
    const { roundTrips: trips } = await counted(() =>
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO item VALUES ($1, $2)', [1, 5]);
        await tx.query('UPDATE item SET qty = qty - 1 WHERE id = $1', [1]);
      }),
    );
    expect(trips).toBe(3);
    expect(await db.query('SELECT qty FROM item WHERE id = 1')).toEqual([{ qty: 4 }]);
  });

  it('when the first statement is the only one, then its rows come back and it is inside the transaction (a later throw undoes it)', async () => {
    await expect(
      db.transaction(async (tx) => {
        const rows = await tx.query<{ id: number }>('INSERT INTO item VALUES (2, 1) RETURNING id');
        expect(rows).toEqual([{ id: 2 }]);
        const [inBlock] = await tx.query<{ open: boolean }>(
          `SELECT now() <> statement_timestamp() OR pg_current_xact_id_if_assigned() IS NOT NULL AS open`,
        );
        expect(inBlock!.open).toBe(true);
        throw new Error('undo');
      }),
    ).rejects.toThrow('undo');
    expect(await db.query('SELECT count(*)::int AS n FROM item')).toEqual([{ n: 0 }]);
  });

  it('when an isolation level is asked for, then the first statement already runs under it', async () => {
    const level = await db.transaction(
      (tx) => tx.query<{ transaction_isolation: string }>('SHOW transaction_isolation'),
      { isolation: 'SERIALIZABLE' },
    );
    expect(level).toEqual([{ transaction_isolation: 'serializable' }]);
  });

  it('when the first statement fails, then the error reaches the caller, nothing remains, and the connection serves the next transaction', async () => {
    const failed = db.transaction(async (tx) => {
      await tx.query('INSERT INTO item VALUES (3, -1)');
    });
    await expect(failed).rejects.toMatchObject({ code: '23514' });
    const poisoned = {
      toPostgres: () => {
        throw new Error('cannot serialise this value');
      },
    };
    await expect(db.transaction((tx) => tx.query('INSERT INTO item VALUES (4, $1)', [poisoned]))).rejects.toThrow(
      'cannot serialise this value',
    );
    await db.transaction((tx) => tx.query('INSERT INTO item VALUES (5, 2)'));
    expect(await db.query('SELECT id FROM item')).toEqual([{ id: 5 }]);
  });

  it('when the body sends its first statements at once, then BEGIN is sent once and all of them are inside the transaction', async () => {
    const { roundTrips: trips } = await counted(() =>
      db
        .transaction(async (tx) => {
          await Promise.all([
            tx.query('INSERT INTO item VALUES (6, 1)'),
            tx.query('INSERT INTO item VALUES (7, 1)'),
            tx.query('INSERT INTO item VALUES (8, 1)'),
          ]);
          throw new Error('undo all three');
        })
        .catch(() => undefined),
    );
    expect(trips).toBe(4); // three statements (BEGIN with the first) and ROLLBACK
    expect(await db.query('SELECT count(*)::int AS n FROM item')).toEqual([{ n: 0 }]);
  });

  it('when the body sends nothing, then the transaction costs no round trip at all', async () => {
    const { result, roundTrips: trips } = await counted(() => db.transaction(async () => 'nothing to do'));
    expect(result).toBe('nothing to do');
    expect(trips).toBe(0);
  });
  it('when statements go together, then each one returns its own rows, in one round trip with the BEGIN', async () => {
    const { result, roundTrips: trips } = await counted(() =>
      db.transaction((tx) =>
        tx.queries([
          { sql: 'INSERT INTO item VALUES ($1, $2)', params: [10, 3] },
          { sql: 'SELECT id, qty FROM item WHERE id = $1', params: [10] },
          { sql: 'SELECT 1 AS one' },
        ]),
      ),
    );
    expect(result).toEqual([[], [{ id: 10, qty: 3 }], [{ one: 1 }]]);
    expect(trips).toBe(2); // the pipeline and COMMIT
  });

  it('when a read goes together with the lock that guards it, then it sees what the lock holder committed before releasing it', async () => {
    const holder = await db.primary.connect();
    const other = new Database({ url: testDb.url, name: 'begin-2', schema: 'begin', max: 1 });
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock(42)');
      const reader = other.transaction((tx) =>
        tx.queries<{ n: number }>([
          { sql: 'SELECT pg_advisory_xact_lock(42)' },
          { sql: 'SELECT count(*)::int AS n FROM item' },
        ]),
      );
      // The reader's pipeline is waiting for the lock; the holder writes and commits, which releases it.
      await new Promise((resolve) => setTimeout(resolve, 100));
      await holder.query('INSERT INTO item VALUES (11, 1)');
      await holder.query('COMMIT');
      const [, counted] = await reader;
      expect(counted).toEqual([{ n: 1 }]);
    } finally {
      holder.release();
      await other.close();
    }
  });

  it('when a statement in the middle fails, then the rest are skipped, the error reaches the caller, and nothing remains', async () => {
    await expect(
      db.transaction((tx) =>
        tx.queries([
          { sql: 'INSERT INTO item VALUES (12, 1)' },
          { sql: 'INSERT INTO item VALUES (13, -1)' },
          { sql: 'INSERT INTO item VALUES (14, 1)' },
        ]),
      ),
    ).rejects.toMatchObject({ code: '23514' });
    expect(await db.query('SELECT count(*)::int AS n FROM item')).toEqual([{ n: 0 }]);
    await db.transaction(async (tx) => {
      await tx.query('INSERT INTO item VALUES (15, 1)');
      await tx.queries([
        { sql: 'UPDATE item SET qty = qty + 1 WHERE id = 15' },
        { sql: 'UPDATE item SET qty = qty + 1 WHERE id = 15' },
      ]);
    });
    expect(await db.query('SELECT qty FROM item WHERE id = 15')).toEqual([{ qty: 3 }]);
  });
  it('when a statement is prepared by name, then it answers like query, and the connection keeps it prepared', async () => {
    await db.query('INSERT INTO item VALUES (30, 4)');
    for (const min of [0, 5]) {
      const expected = await db.query('SELECT count(*)::int AS n FROM item WHERE qty >= $1', [min]);
      expect(
        await db.queryPrepared('probe-count', 'SELECT count(*)::int AS n FROM item WHERE qty >= $1', [min]),
      ).toEqual(expected);
    }
    // One connection in this pool: the statement is still prepared on it.
    expect(await db.query(`SELECT name FROM pg_prepared_statements WHERE name = 'probe-count'`)).toEqual([
      { name: 'probe-count' },
    ]);
  });

  it('when a lag-tolerant read is prepared by name, then it answers like queryRead, and the connection keeps it prepared', async () => {
    await db.query('INSERT INTO item VALUES (31, 6)');
    const sql = 'SELECT count(*)::int AS n FROM item WHERE qty >= $1';
    for (const min of [0, 5]) {
      expect(await db.queryReadPrepared('probe-read', sql, [min])).toEqual(await db.queryRead(sql, [min]));
    }
    // No replica here: the read went to the primary's one connection.
    expect(await db.query(`SELECT name FROM pg_prepared_statements WHERE name = 'probe-read'`)).toEqual([
      { name: 'probe-read' },
    ]);
  });

  describe('deferred writes', () => {
    it('when a body defers a write, then it goes with COMMIT: one round trip fewer, and it is written after what the body sent', async () => {
      const { roundTrips: trips } = await counted(() =>
        db.transaction(async (tx) => {
          tx.defer('UPDATE item SET qty = qty * 10 WHERE id = $1', [20]);
          await tx.query('INSERT INTO item VALUES ($1, $2)', [20, 2]);
        }),
      );
      expect(trips).toBe(2); // BEGIN with the insert; the deferred update with COMMIT
      expect(await db.query('SELECT qty FROM item WHERE id = 20')).toEqual([{ qty: 20 }]);
      const { roundTrips: alone } = await counted(() =>
        db.transaction(async (tx) => tx.defer('INSERT INTO item VALUES (21, 1)')),
      );
      expect(alone).toBe(1); // BEGIN, the write and COMMIT together
    });

    it('when a deferred write fails, then nothing commits, the error reaches the caller, and the connection serves the next transaction', async () => {
      const failed = db.transaction(async (tx) => {
        await tx.query('INSERT INTO item VALUES (22, 1)');
        tx.defer('INSERT INTO item VALUES (23, -1)');
        return 'the body finished';
      });
      await expect(failed).rejects.toMatchObject({ code: '23514' });
      expect(await db.query('SELECT count(*)::int AS n FROM item')).toEqual([{ n: 0 }]);
      await db.transaction(async (tx) => tx.defer('INSERT INTO item VALUES (24, 1)'));
      expect(await db.query('SELECT id FROM item')).toEqual([{ id: 24 }]);
    });

    it('when a body throws, then its deferred writes are never sent', async () => {
      await expect(
        db.transaction(async (tx) => {
          tx.defer('INSERT INTO item VALUES (25, 1)');
          throw new Error('changed my mind');
        }),
      ).rejects.toThrow('changed my mind');
      expect(await db.query('SELECT count(*)::int AS n FROM item')).toEqual([{ n: 0 }]);
    });
  });

  describe('a statement sent with the next round trip', () => {
    it('when a body sends a statement with the next one, then both go in one round trip, the next sees what it wrote, and its rows come back with it', async () => {
      const { result, roundTrips: trips } = await counted(() =>
        db.transaction(async (tx) => {
          const written = tx.sendWithNext<{ id: number }>('INSERT INTO item VALUES ($1, $2) RETURNING id', [50, 3]);
          const [seen] = await tx.query<{ qty: number }>('SELECT qty FROM item WHERE id = $1', [50]);
          return { written: await written, seen };
        }),
      );
      expect(result).toEqual({ written: [{ id: 50 }], seen: { qty: 3 } });
      expect(trips).toBe(2); // BEGIN, the insert and the read together; COMMIT
    });

    it('when nothing follows it, then it goes with COMMIT', async () => {
      let written: Promise<unknown> | undefined;
      const { roundTrips: trips } = await counted(() =>
        db.transaction(async (tx) => {
          await tx.query('INSERT INTO item VALUES ($1, $2)', [51, 1]);
          written = tx.sendWithNext('UPDATE item SET qty = qty + 1 WHERE id = $1 RETURNING qty', [51]);
        }),
      );
      expect(trips).toBe(2); // BEGIN with the insert; the update with COMMIT
      await expect(written).resolves.toEqual([{ qty: 2 }]);
      expect(await db.query('SELECT qty FROM item WHERE id = 51')).toEqual([{ qty: 2 }]);
    });

    it('when it fails, then the round trip it went with fails too, nothing commits, and the connection serves the next transaction', async () => {
      let written: Promise<unknown> | undefined;
      const failed = db.transaction(async (tx) => {
        await tx.query('INSERT INTO item VALUES (52, 1)');
        written = tx.sendWithNext('UPDATE item SET qty = -1 WHERE id = 52');
        await tx.query('INSERT INTO item VALUES (53, 1)');
      });
      await expect(failed).rejects.toMatchObject({ code: '23514' });
      await expect(written).rejects.toMatchObject({ code: '23514' });
      expect(await db.query('SELECT count(*)::int AS n FROM item')).toEqual([{ n: 0 }]);
      await db.transaction(async (tx) => {
        void tx.sendWithNext('INSERT INTO item VALUES (54, 1)');
      });
      expect(await db.query('SELECT id FROM item')).toEqual([{ id: 54 }]);
    });

    it('when a body throws before the next round trip, then it is never sent and its promise rejects with that error', async () => {
      let written: Promise<unknown> | undefined;
      await expect(
        db.transaction(async (tx) => {
          written = tx.sendWithNext('INSERT INTO item VALUES (55, 1)');
          throw new Error('changed my mind');
        }),
      ).rejects.toThrow('changed my mind');
      await expect(written).rejects.toThrow('changed my mind');
      expect(await db.query('SELECT count(*)::int AS n FROM item')).toEqual([{ n: 0 }]);
    });
  });

  describe('a last statement sent with COMMIT', () => {
    it('when a body ends with commitWith, then that statement, the deferred writes and COMMIT go in one round trip and its rows come back once committed', async () => {
      const { result, roundTrips: trips } = await counted(() =>
        db.transaction(async (tx) => {
          await tx.query('INSERT INTO item VALUES ($1, $2)', [30, 1]);
          tx.defer('UPDATE item SET qty = qty + 1 WHERE id = $1', [30]);
          return tx.commitWith<{ id: number }>('INSERT INTO item VALUES ($1, $2) RETURNING id', [31, 5]);
        }),
      );
      expect(result).toEqual([{ id: 31 }]);
      expect(trips).toBe(2); // BEGIN with the first insert; the last insert, the deferred update and COMMIT together
      expect(await db.query('SELECT id, qty FROM item ORDER BY id')).toEqual([
        { id: 30, qty: 2 },
        { id: 31, qty: 5 },
      ]);
    });

    it('when the statement sent with COMMIT fails, then nothing commits, the error reaches the caller, and the connection serves the next transaction', async () => {
      const failed = db.transaction(async (tx) => {
        await tx.query('INSERT INTO item VALUES (32, 1)');
        tx.defer('INSERT INTO item VALUES (33, 1)');
        return tx.commitWith('UPDATE item SET qty = -1 WHERE id = 32');
      });
      await expect(failed).rejects.toMatchObject({ code: '23514' });
      expect(await db.query('SELECT count(*)::int AS n FROM item')).toEqual([{ n: 0 }]);
      await db.transaction((tx) => tx.commitWith('INSERT INTO item VALUES (34, 1)'));
      expect(await db.query('SELECT id FROM item')).toEqual([{ id: 34 }]);
    });

    it('when a body defers a write after commitWith, then it fails loudly instead of dropping the write', async () => {
      await expect(
        db.transaction(async (tx) => {
          await tx.commitWith('INSERT INTO item VALUES (35, 1)');
          tx.defer('INSERT INTO item VALUES (36, 1)');
        }),
      ).rejects.toThrow(/deferred after commitWith/);
    });
  });

  describe('statements with parameters, prepared once per connection', () => {
    it('when a statement with parameters runs again on a connection, then it is prepared there once, under a name from its text', async () => {
      const insert = (id: number) =>
        db.transaction((tx) => tx.query('INSERT INTO item VALUES ($1, $2) RETURNING id, qty', [id, 1]));
      const prepared = () =>
        db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement = 'INSERT INTO item VALUES ($1, $2) RETURNING id, qty'`,
        );
      await insert(40);
      expect(await prepared()).toEqual([{ n: 1 }]);
      for (const id of [41, 42]) await insert(id);
      expect(await prepared()).toEqual([{ n: 1 }]);
      expect(await db.query('SELECT count(*)::int AS n FROM item')).toEqual([{ n: 3 }]);
    });

    it('when a pipeline with prepared statements fails, then the connection prepares them again under new names and answers as before', async () => {
      const insertTwo = (a: number, b: number) =>
        db.transaction((tx) =>
          tx.queries([
            { sql: 'INSERT INTO item VALUES ($1, $2)', params: [a, 1] },
            { sql: 'INSERT INTO item VALUES ($1, $2)', params: [b, 1] },
          ]),
        );
      await insertTwo(50, 51);
      await expect(insertTwo(52, 50)).rejects.toMatchObject({ code: '23505' });
      await insertTwo(53, 54);
      expect(await db.query<{ id: number }>('SELECT id FROM item ORDER BY id')).toEqual([
        { id: 50 },
        { id: 51 },
        { id: 53 },
        { id: 54 },
      ]);
    });
  });
});
