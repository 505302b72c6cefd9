import path from 'node:path';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '@orrange/testing';
import { run } from '../../scripts/lib/infra';
import { ROOT, SERVICES } from '../../scripts/lib/services';

/**
 * The tests build their databases by running each migration's SQL in one go; operators run `pnpm db:setup`,
 * which goes through `prisma migrate deploy` and Prisma's own statement splitter. A migration that only the
 * first way can read once broke `pnpm start` on every fresh database while every test passed: this suite runs
 * the operators' commands themselves and checks that both ways build the same schema.
 */
describe('end to end: the database commands', () => {
  let bare: TestDatabase;
  let reference: TestDatabase;

  beforeAll(async () => {
    bare = await createTestDatabase();
    reference = await createTestDatabase(SERVICES.map((s) => ({ schema: s.schema, dir: path.join(ROOT, 'services', s.name, 'prisma/migrations') })));
  });

  afterAll(async () => {
    await bare?.drop();
    await reference?.drop();
  });

  const pnpm = (command: string, env: NodeJS.ProcessEnv = {}) => run('pnpm', [command], { cwd: ROOT, env: { DATABASE_URL: bare.url, NODE_ENV: 'test', ...env } });

  it('when db:setup runs on an empty database, then every service is migrated through Prisma, db:health says so, and the schema is the one the tests use', async () => {
    await pnpm('db:setup');

    const health = await pnpm('db:health');
    for (const service of SERVICES) expect(health).toMatch(new RegExp(`migrations ${service.name} \\(schema ${service.schema}\\): \\d+ applied, up to date`));
    expect(health).toMatch(/\[db\] redis memory: \S+ used \(peak \S+\), (no maxmemory|maxmemory \S+), policy \S+/);
    expect(health).toMatch(/\[db\] redis clients: [1-9]\d*\/\d+ connected, \d+ blocked/);
    // The machine's Postgres may or may not preload pg_stat_statements: either the list, or how to enable it.
    expect(health).toMatch(/\[db\] slowest statements( \(pg_stat_statements, by mean time\): |: unavailable \(pg_stat_statements is (not loaded: add shared_preload_libraries|loaded but not created))/);
    expect(health).toMatch(/\[db\] statements running longer than 1 s now: /);
    expect(await describeSchemas(bare.url)).toEqual(await describeSchemas(reference.url));

    // Applied already: running it again changes nothing and still succeeds.
    await pnpm('db:migrate');
    expect(await describeSchemas(bare.url)).toEqual(await describeSchemas(reference.url));
  });

  it('when db:studio is run without a service and no terminal to ask, then it prints the usage and exits non-zero', async () => {
    await expect(pnpm('db:studio')).rejects.toThrow(/\[db\] usage: pnpm db:studio <user\|order-book\|trade-execution\|dispute>/);
  });

  it('when ADMIN_EMAIL belongs to an account that is not an admin, then db:seed exits non-zero with a clear message and promotes nobody', async () => {
    const client = new pg.Client({ connectionString: bare.url });
    await client.connect();
    try {
      await client.query(`INSERT INTO users.users (email, username, username_key, password_hash) VALUES ('squatted@e2e.test', 'squatter', 'squatter', 'x')`);
      await expect(pnpm('db:seed', { ADMIN_EMAIL: 'squatted@e2e.test', ADMIN_PASSWORD: 'the-real-admin-password' })).rejects.toThrow(/\[db\] seed refused: ADMIN_EMAIL squatted@e2e\.test belongs to an existing account that is not an admin/);
      const { rows } = await client.query<{ roles: string[] }>(`SELECT roles FROM users.users WHERE email = 'squatted@e2e.test'`);
      expect(rows).toEqual([{ roles: ['user'] }]);
      await expect(pnpm('db:seed', { NODE_ENV: 'production', ADMIN_EMAIL: 'fresh-admin@e2e.test' })).rejects.toThrow(/seed refused: ADMIN_PASSWORD: the development password must not be used in production/);
    } finally {
      await client.end();
    }
  });
});

/** Every column, constraint, index and function (by a hash of its text) of the services' schemas, in a stable order. */
async function describeSchemas(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const schemas = SERVICES.map((s) => s.schema);
    const { rows } = await client.query<{ line: string }>(
      `SELECT format('column %s.%s.%s %s %s %s', table_schema, table_name, column_name, data_type, is_nullable, column_default) AS line
         FROM information_schema.columns WHERE table_schema = ANY($1) AND table_name <> '_prisma_migrations'
       UNION ALL
       SELECT format('constraint %s.%s %s', n.nspname, c.conname, pg_get_constraintdef(c.oid))
         FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = ANY($1)
          AND c.conrelid <> 0 AND c.conrelid::regclass::text NOT LIKE '%_prisma_migrations'
       UNION ALL
       SELECT format('index %s', indexdef) FROM pg_indexes WHERE schemaname = ANY($1) AND tablename <> '_prisma_migrations'
       UNION ALL
       SELECT format('function %s.%s %s', n.nspname, p.proname, md5(pg_get_functiondef(p.oid)))
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = ANY($1)
       ORDER BY 1`,
      [schemas],
    );
    return rows.map((r) => r.line);
  } finally {
    await client.end();
  }
}
