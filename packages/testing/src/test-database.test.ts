import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  createTestDatabase,
  dropTestDatabase,
  templateIdentity,
  TEST_SERVER_URL,
  type SchemaMigrations,
} from './test-database';

async function adminRows<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: TEST_SERVER_URL });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

async function queryIn<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

const templateOid = async (name: string): Promise<string | undefined> =>
  (await adminRows<{ oid: string }>('SELECT oid::text FROM pg_database WHERE datname = $1', [name]))[0]?.oid;

describe('test databases', () => {
  it('when created, then the database exists with "test" in its name, and drop removes it', async () => {
    const db = await createTestDatabase();
    expect(db.name).toContain('test');
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    expect((await client.query('SELECT current_database() AS name')).rows[0].name).toBe(db.name);
    await client.end();
    await db.drop();
  });

  it('when asked to drop a database without "test" in its name, then it refuses', async () => {
    await expect(dropTestDatabase('orrange')).rejects.toThrow(/refusing/);
  });
});

describe('test databases cloned from a migrated template', () => {
  let dir: string;
  let migrations: SchemaMigrations[];
  const writeMigration = (folder: string, sql: string): void => {
    mkdirSync(join(dir, folder), { recursive: true });
    writeFileSync(join(dir, folder, 'migration.sql'), sql);
  };

  beforeEach(() => {
    // A folder of its own: a schema set no other run has, so its template is this test's alone.
    dir = mkdtempSync(join(tmpdir(), 'orrange-template-test-'));
    migrations = [{ schema: 'shop', dir }];
    writeMigration('20260101000000_init', 'CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);');
  });

  afterEach(async () => {
    for (const { datname } of await adminRows<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE starts_with(datname, $1)',
      [`orrange_test_tpl_${templateIdentity(migrations).set}_`],
    )) {
      await adminRows(`ALTER DATABASE "${datname}" WITH IS_TEMPLATE false`);
      await dropTestDatabase(datname);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it("when a migration has a ';' in a comment (which Prisma cuts it at), then building the template fails and names the file", async () => {
    writeMigration('20260102000000_comment', '-- one thing; another\nALTER TABLE items ADD COLUMN note text;');
    await expect(createTestDatabase(migrations)).rejects.toThrow(/20260102000000_comment.*syntax error/);
  });

  it('when suites ask for the same migrations, then each gets its own migrated clone of one template, built once', async () => {
    const first = await createTestDatabase(migrations);
    const template = templateIdentity(migrations).name;
    const oid = await templateOid(template);
    const second = await createTestDatabase(migrations);
    try {
      expect(oid).toBeDefined();
      expect(await templateOid(template)).toBe(oid);
      await queryIn(first.url, "INSERT INTO shop.items VALUES (1, 'only in the first')");
      expect(await queryIn(second.url, 'SELECT * FROM shop.items')).toEqual([]);
      expect(
        await adminRows('SELECT datistemplate, datallowconn FROM pg_database WHERE datname = $1', [template]),
      ).toEqual([{ datistemplate: true, datallowconn: false }]);
    } finally {
      await first.drop();
      await second.drop();
    }
    expect(await adminRows('SELECT 1 FROM pg_database WHERE datname IN ($1, $2)', [first.name, second.name])).toEqual(
      [],
    );
  });

  it('when several suites start at once, then all get a clone and the template is built once', async () => {
    const dbs = await Promise.all(Array.from({ length: 4 }, () => createTestDatabase(migrations)));
    try {
      for (const db of dbs)
        expect(await queryIn(db.url, 'SELECT count(*)::int AS n FROM shop.items')).toEqual([{ n: 0 }]);
      expect(
        await adminRows('SELECT 1 FROM pg_database WHERE starts_with(datname, $1)', [
          `orrange_test_tpl_${templateIdentity(migrations).set}_`,
        ]),
      ).toHaveLength(1);
    } finally {
      await Promise.all(dbs.map((db) => db.drop()));
    }
  });

  it('when a migration is added, then a new template holds it and the stale one of the same set is dropped', async () => {
    const before = await createTestDatabase(migrations);
    await before.drop();
    const stale = templateIdentity(migrations).name;
    writeMigration('20260102000000_price', 'ALTER TABLE items ADD COLUMN price numeric NOT NULL DEFAULT 0;');
    const after = await createTestDatabase(migrations);
    try {
      expect(templateIdentity(migrations).name).not.toBe(stale);
      expect(await templateOid(stale)).toBeUndefined();
      expect(
        await queryIn(
          after.url,
          "SELECT column_name FROM information_schema.columns WHERE table_schema = 'shop' AND table_name = 'items' ORDER BY column_name",
        ),
      ).toEqual([{ column_name: 'id' }, { column_name: 'name' }, { column_name: 'price' }]);
    } finally {
      await after.drop();
    }
  });

  it('when a template was left half-built (never marked complete), then it is rebuilt before anyone clones it', async () => {
    const template = templateIdentity(migrations).name;
    await adminRows(`CREATE DATABASE "${template}"`); // as a builder killed before its migrations finished leaves it
    const db = await createTestDatabase(migrations);
    try {
      expect(await queryIn(db.url, 'SELECT count(*)::int AS n FROM shop.items')).toEqual([{ n: 0 }]);
    } finally {
      await db.drop();
    }
  });

  it('when a migration fails, then the error is thrown and no template or clone is left', async () => {
    writeMigration('20260102000000_broken', 'ALTER TABLE no_such_table ADD COLUMN x int;');
    await expect(createTestDatabase(migrations)).rejects.toThrow(/no_such_table/);
    expect(await templateOid(templateIdentity(migrations).name)).toBeUndefined();
  });
});
