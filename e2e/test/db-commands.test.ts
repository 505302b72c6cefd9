import path from 'node:path';
import pg from 'pg';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@orrange/testing';
import { MIGRATION_ROLE } from '@orrange/config';
import { run } from '@orrange/stack/infra';
import { handOverSchemas } from '@orrange/stack/schema-owner';
import { ROOT, SERVICES } from '@orrange/stack/services';

/**
 * The tests build their databases by running each migration's SQL in one go; operators run `pnpm db:setup`,
 * which goes through `prisma migrate deploy` and Prisma's own statement splitter. A migration that only the
 * first way can read once broke `pnpm start` on every fresh database while every test passed: this suite runs
 * the operators' commands themselves and checks that both ways build the same schema.
 */
describe('end to end: the database commands', () => {
  let bare: TestDatabase;
  let reference: TestDatabase;
  let redis: TestRedis;

  beforeAll(async () => {
    redis = await createTestRedis();
    bare = await createTestDatabase();
    reference = await createTestDatabase(
      SERVICES.map((s) => ({ schema: s.schema, dir: path.join(ROOT, 'services', s.name, 'prisma/migrations') })),
    );
  });

  afterAll(async () => {
    await bare?.drop();
    await reference?.drop();
    await redis?.cleanup();
  });

  const pnpm = (command: string, env: NodeJS.ProcessEnv = {}) =>
    run('pnpm', [command], {
      cwd: ROOT,
      env: { DATABASE_URL: bare.url, REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix, NODE_ENV: 'test', ...env },
    });

  it('when db:setup runs on an empty database, then every service is migrated through Prisma, db:health says so, and the schema is the one the tests use', async () => {
    await pnpm('db:setup');

    const health = await pnpm('db:health');
    for (const service of SERVICES)
      expect(health).toMatch(
        new RegExp(`migrations ${service.name} \\(schema ${service.schema}\\): \\d+ applied, up to date`),
      );
    expect(health).toMatch(/\[db\] redis memory: \S+ used \(peak \S+\), (no maxmemory|maxmemory \S+), policy \S+/);
    expect(health).toMatch(/\[db\] redis clients: [1-9]\d*\/\d+ connected, \d+ blocked/);
    // The machine's Postgres may or may not preload pg_stat_statements: either the list, or how to enable it.
    expect(health).toMatch(
      /\[db\] slowest statements( \(pg_stat_statements, by mean time\): |: unavailable \(pg_stat_statements is (not loaded: add shared_preload_libraries|loaded but not created))/,
    );
    expect(health).toMatch(/\[db\] statements running longer than 1 s now: /);
    expect(await describeSchemas(bare.url)).toEqual(await describeSchemas(reference.url));

    // Applied already: running it again changes nothing and still succeeds.
    await pnpm('db:migrate');
    expect(await describeSchemas(bare.url)).toEqual(await describeSchemas(reference.url));
  });

  // On the database the first test set up.
  it('when db:seed runs twice outside production, then the development data is there once: users with wallets, ads in several markets, a trade in every state, disputes', async () => {
    const first = await pnpm('db:seed');
    expect(first).toMatch(/\[db\] development data: \d+ things created/);
    const data = await describeDevData(bare.url);
    expect(data.users).toEqual(['alice', 'bob', 'carol', 'dave', 'erin']);
    expect(data.funded).toEqual(['alice', 'bob', 'carol', 'dave']);
    expect(data.openAdMarkets.length).toBeGreaterThanOrEqual(4);
    expect(data.tradeStates).toEqual(['AWAITING_PAYMENT', 'CANCELLED', 'COMPLETED', 'DISPUTED', 'PAID', 'RESOLVED']);
    expect(data.disputes).toEqual(['RESOLVED', 'UNDER_REVIEW']);

    const second = await pnpm('db:seed');
    expect(second).toMatch(/\[db\] development data: already present, nothing changed/);
    expect(await describeDevData(bare.url)).toEqual(data);

    // Production: the admin only (already present here), never development users.
    expect(await pnpm('db:seed', { NODE_ENV: 'production', ADMIN_PASSWORD: 'the-real-admin-password' })).toMatch(
      /development data: not written with NODE_ENV=production/,
    );
    expect(await describeDevData(bare.url)).toEqual(data);
  }, 240_000);

  // On the database the first test set up.
  it("when db:migrate finds the schemas owned by DATABASE_URL's user (migrated before the migration role), then it hands them over, default privileges included, and the schema is the one the tests use", async () => {
    const admin = new pg.Client({ connectionString: bare.url });
    await admin.connect();
    try {
      // The database as it was when DATABASE_URL's user ran the migrations: everything, default privileges
      // included, that user's, and nothing the migration role's.
      await admin.query('BEGIN');
      await handOverSchemas(
        admin,
        SERVICES.map((s) => s.schema),
        'postgres',
      );
      await admin.query(`DROP OWNED BY ${MIGRATION_ROLE.dbRole}`);
      await admin.query('COMMIT');
      expect(await describeSchemas(bare.url)).not.toEqual(await describeSchemas(reference.url));
    } finally {
      await admin.end();
    }
    const migrated = await pnpm('db:migrate');
    expect(migrated).toMatch(/\[db\] schemas dispute, order_book, trade, users handed over to the migration role/);
    expect(await describeSchemas(bare.url)).toEqual(await describeSchemas(reference.url));
    expect(await pnpm('db:migrate')).not.toMatch(/handed over/);
  });

  it('when db:studio is run without a service and no terminal to ask, then it prints the usage and exits non-zero', async () => {
    await expect(pnpm('db:studio')).rejects.toThrow(
      /\[db\] usage: pnpm db:studio <user\|order-book\|trade-execution\|dispute>/,
    );
  });

  it('when ADMIN_EMAIL belongs to an account that is not an admin, then db:seed exits non-zero with a clear message and promotes nobody', async () => {
    const client = new pg.Client({ connectionString: bare.url });
    await client.connect();
    try {
      await client.query(
        `INSERT INTO users.users (email, username, username_key, password_hash) VALUES ('squatted@e2e.test', 'squatter', 'squatter', 'x')`,
      );
      await expect(
        pnpm('db:seed', { ADMIN_EMAIL: 'squatted@e2e.test', ADMIN_PASSWORD: 'the-real-admin-password' }),
      ).rejects.toThrow(
        /\[db\] seed refused: ADMIN_EMAIL squatted@e2e\.test belongs to an existing account that is not an admin/,
      );
      const { rows } = await client.query<{ roles: string[] }>(
        `SELECT roles FROM users.users WHERE email = 'squatted@e2e.test'`,
      );
      expect(rows).toEqual([{ roles: ['user'] }]);
      await expect(pnpm('db:seed', { NODE_ENV: 'production', ADMIN_EMAIL: 'fresh-admin@e2e.test' })).rejects.toThrow(
        /seed refused: ADMIN_PASSWORD: the development password must not be used in production/,
      );
    } finally {
      await client.end();
    }
  });
});

/** What a newcomer would explore, and every row count that a second seed must leave alone. */
async function describeDevData(url: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const column = async (sql: string) => (await client.query<{ v: string }>(sql)).rows.map((r) => r.v);
  try {
    return {
      users: await column(
        `SELECT username AS v FROM users.users WHERE email LIKE '%@orrange.local' AND email <> 'admin@orrange.local' ORDER BY 1`,
      ),
      funded: await column(
        `SELECT DISTINCT u.username AS v FROM trade.accounts a JOIN users.users u ON u.id::text = a.owner_id WHERE a.kind <> 'EXTERNAL' AND a.balance > 0 ORDER BY 1`,
      ),
      openAdMarkets: await column(
        `SELECT DISTINCT asset || '/' || fiat_currency AS v FROM order_book.orders WHERE status = 'OPEN' ORDER BY 1`,
      ),
      tradeStates: await column(`SELECT status::text AS v FROM trade.trades ORDER BY 1`),
      disputes: await column(`SELECT status::text AS v FROM dispute.disputes ORDER BY 1`),
      counts: await column(
        `SELECT format('%s users, %s payment methods, %s orders, %s trades, %s journals, %s feedback, %s messages, %s evidence', (SELECT count(*) FROM users.users), (SELECT count(*) FROM users.payment_methods),
                (SELECT count(*) FROM order_book.orders), (SELECT count(*) FROM trade.trades), (SELECT count(*) FROM trade.journals), (SELECT count(*) FROM trade.trade_feedback),
                (SELECT count(*) FROM trade.trade_messages), (SELECT count(*) FROM dispute.evidence)) AS v`,
      ),
    };
  } finally {
    await client.end();
  }
}

/**
 * Every column, constraint, index and function (by a hash of its text) of the services' schemas, who owns each
 * schema, table and function and what it grants, the row-level security policies, and the migration role's default
 * privileges there (what later migrations' objects are granted), in a stable order.
 */
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
       UNION ALL
       SELECT format('schema %s owner %s grants %s', n.nspname, n.nspowner::regrole, n.nspacl) FROM pg_namespace n WHERE n.nspname = ANY($1)
       UNION ALL
       SELECT format('relation %s owner %s grants %s rls %s', c.oid::regclass, c.relowner::regrole, c.relacl, c.relrowsecurity)
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY($1)
          AND c.relname NOT LIKE '_prisma_migrations%'
       UNION ALL
       SELECT format('routine %s owner %s grants %s', p.oid::regprocedure, p.proowner::regrole, p.proacl)
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = ANY($1)
       UNION ALL
       SELECT format('policy %s.%s %s %s %s %s %s', schemaname, tablename, policyname, roles, cmd, qual, with_check)
         FROM pg_policies WHERE schemaname = ANY($1)
       UNION ALL
       SELECT format('default privileges in %s on %s: %s', n.nspname, d.defaclobjtype, d.defaclacl)
         FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace WHERE n.nspname = ANY($1) AND d.defaclrole = $2::regrole
       ORDER BY 1`,
      [schemas, MIGRATION_ROLE.dbRole],
    );
    return rows.map((r) => r.line);
  } finally {
    await client.end();
  }
}
