import path from 'node:path';
import pg from 'pg';
import { asServiceRole, devDatabasePassword, MIGRATION_ROLE, type ServiceName } from '@orrange/config';
import { createTestDatabase, type TestDatabase } from '@orrange/testing';
import { ROOT, SERVICES } from '@orrange/stack/services';

/**
 * Issue 17: every service connects as a role of its own (the stack the other suites start does), granted its own
 * schema and, elsewhere, EXECUTE on exactly the functions it calls. Here each role is tried on the database every
 * migration built: what it may do, and what another service's schema refuses it.
 */
describe('end to end: one Postgres role per service', () => {
  let db: TestDatabase;
  const clients = new Map<ServiceName, pg.Client>();

  beforeAll(async () => {
    db = await createTestDatabase(
      SERVICES.map((s) => ({ schema: s.schema, dir: path.join(ROOT, 'services', s.name, 'prisma/migrations') })),
    );
    for (const service of SERVICES) {
      const client = new pg.Client({
        connectionString: asServiceRole(db.url, service.name, devDatabasePassword(service.name)),
      });
      await client.connect();
      clients.set(service.name, client);
    }
  });

  afterAll(async () => {
    for (const client of clients.values()) await client.end();
    await db?.drop();
  });

  /** The SQLSTATE a statement fails with as a service's role, or 'ok'. */
  const attempt = async (service: ServiceName, sql: string): Promise<string> => {
    const client = clients.get(service)!;
    try {
      await client.query(sql);
      return 'ok';
    } catch (error) {
      return (error as { code?: string }).code ?? String(error);
    }
  };

  it('when a service reads, writes or creates in its own schema, then reads and writes pass and creating is refused', async () => {
    for (const service of SERVICES) {
      expect(await attempt(service.name, `SELECT count(*) FROM "${service.schema}".outbox`)).toBe('ok');
      expect(await attempt(service.name, `UPDATE "${service.schema}".outbox SET type = type WHERE false`)).toBe('ok');
      expect(await attempt(service.name, `CREATE TABLE "${service.schema}".planted (id int)`)).toBe('42501');
    }
  });

  it("when a service reads or writes another service's schema, then Postgres refuses it (42501)", async () => {
    for (const service of SERVICES) {
      for (const other of SERVICES.filter((s) => s.name !== service.name)) {
        expect([
          service.name,
          other.schema,
          await attempt(service.name, `SELECT 1 FROM "${other.schema}".inbox LIMIT 1`),
        ]).toEqual([service.name, other.schema, '42501']);
        expect([
          service.name,
          other.schema,
          await attempt(service.name, `DELETE FROM "${other.schema}".outbox WHERE false`),
        ]).toEqual([service.name, other.schema, '42501']);
      }
    }
    // The money tables above all: order-book moves funds only through trade-execution's functions.
    expect(await attempt('order-book', 'SELECT balance FROM trade.accounts LIMIT 1')).toBe('42501');
    expect(await attempt('user', 'SELECT balance FROM trade.accounts LIMIT 1')).toBe('42501');
    expect(await attempt('dispute', 'SELECT 1 FROM users.payment_methods LIMIT 1')).toBe('42501');
  });

  it('when a service calls functions of another schema, then exactly the ones granted to it run', async () => {
    // order-book on the order path: the limits and the public extras of ads.
    expect(await attempt('order-book', "SELECT trade.buyer_room('nobody', 10, 3)")).toBe('ok');
    expect(await attempt('order-book', "SELECT * FROM users.maker_public_stats(ARRAY['nobody'])")).toBe('ok');
    // ...not the ledger's general postings (they run as the owner of its tables), nor the snapshots that only
    // open_trades (as its owner) reads.
    for (const other of ['order-book', 'dispute', 'user'] as const) {
      expect([other, await attempt(other, "SELECT trade.post_journals('[]'::jsonb)")]).toEqual([other, '42501']);
      const posting = "SELECT trade.post_journal(gen_random_uuid(), 'HACK', 'x', '[]'::jsonb)";
      expect([other, await attempt(other, posting)]).toEqual([other, '42501']);
    }
    expect(await attempt('order-book', "SELECT * FROM users.payment_method_snapshots('[]'::jsonb)")).toBe('42501');
    // The redelivery sweeps: a producer asks its consumers' inboxes (EVENT_ROUTES), nobody else does.
    const none = "'{}'::uuid[]";
    expect(await attempt('trade-execution', `SELECT users.inbox_confirmed(${none})`)).toBe('ok');
    expect(await attempt('trade-execution', `SELECT dispute.inbox_confirmed(${none})`)).toBe('ok');
    expect(await attempt('dispute', `SELECT trade.inbox_confirmed(${none})`)).toBe('ok');
    expect(await attempt('order-book', `SELECT users.inbox_confirmed(${none})`)).toBe('42501');
    expect(await attempt('dispute', `SELECT users.inbox_confirmed(${none})`)).toBe('42501');
    expect(await attempt('user', `SELECT trade.inbox_confirmed(${none})`)).toBe('42501');
    // The user service's own look-ups that come before an acting user is known (row-level security): its role only.
    const owned = [
      "SELECT * FROM users.resolve_api_key('nohash')",
      "SELECT users.refresh_token_owner('nohash')",
      'SELECT users.purge_refresh_tokens(1)',
    ];
    for (const sql of owned) {
      expect([sql, await attempt('user', sql)]).toEqual([sql, 'ok']);
      for (const other of ['order-book', 'trade-execution', 'dispute'] as const)
        expect([other, sql, await attempt(other, sql)]).toEqual([other, sql, '42501']);
    }
  });

  it('when the migrations ran, then the migration role owns every schema and object, with no more rights than that, and no service can become it', async () => {
    const [owners] = await db.query<{ schemas: string[]; others: string[] }>(
      `SELECT array_agg(DISTINCT n.nspowner::regrole::text) AS schemas,
              array(SELECT DISTINCT c.relowner::regrole::text FROM pg_class c WHERE c.relnamespace = ANY(array_agg(n.oid))
                    UNION SELECT DISTINCT p.proowner::regrole::text FROM pg_proc p WHERE p.pronamespace = ANY(array_agg(n.oid))) AS others
         FROM pg_namespace n WHERE n.nspname = ANY($1::text[])`,
      [SERVICES.map((s) => s.schema)],
    );
    expect(owners).toEqual({ schemas: [MIGRATION_ROLE.dbRole], others: [MIGRATION_ROLE.dbRole] });
    const [migrator] = await db.query(
      'SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = $1',
      [MIGRATION_ROLE.dbRole],
    );
    expect(migrator).toEqual({
      rolsuper: false,
      rolcreaterole: false,
      rolcreatedb: false,
      rolbypassrls: false,
      rolcanlogin: true,
    });
    for (const service of SERVICES)
      expect([service.name, await attempt(service.name, `SET ROLE ${MIGRATION_ROLE.dbRole}`)]).toEqual([
        service.name,
        '42501',
      ]);
  });
});
