import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Database } from '@orrange/db';
import { createTestDatabase, type TestDatabase } from '@orrange/testing';
import { OUTBOX_TABLES_SQL, SERVICE_SCHEMAS, type ServiceName } from '../src';

const SERVICES_DIR = path.join(__dirname, '../../../services');
const REFERENCE_SCHEMA = 'outbox_reference';
const TABLES = ['outbox', 'inbox'];

/** A table as the catalog has it, with its schema's name taken out so that two schemas' tables compare. */
async function describeTable(db: Database, schema: string, table: string) {
  const unqualified = (text: string | null) => text?.split(`${schema}.`).join('') ?? null;
  const columns = await db.query<{
    column_name: string;
    data_type: string;
    datetime_precision: number | null;
    is_nullable: string;
    column_default: string | null;
  }>(
    `SELECT column_name, data_type, datetime_precision, is_nullable, column_default FROM information_schema.columns
      WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
    [schema, table],
  );
  const indexes = await db.query<{ indexname: string; indexdef: string }>(
    'SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 ORDER BY indexname',
    [schema, table],
  );
  const constraints = await db.query<{ conname: string; definition: string }>(
    `SELECT conname, pg_get_constraintdef(c.oid) AS definition FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = $1 AND t.relname = $2 ORDER BY conname`,
    [schema, table],
  );
  return {
    columns: columns.map((c) => ({ ...c, column_default: unqualified(c.column_default) })),
    indexes: indexes.map((i) => ({ name: i.indexname, definition: unqualified(i.indexdef) })),
    constraints,
  };
}

describe('the outbox tables, defined once', () => {
  let testDb: TestDatabase;
  let db: Database;
  const services = Object.keys(SERVICE_SCHEMAS) as ServiceName[];

  beforeAll(async () => {
    testDb = await createTestDatabase(
      services.map((service) => ({
        schema: SERVICE_SCHEMAS[service],
        dir: path.join(SERVICES_DIR, service, 'prisma/migrations'),
      })),
    );
    db = new Database({ url: testDb.url, name: 'outbox-tables-test', schema: REFERENCE_SCHEMA, healthIntervalMs: 0 });
    await db.query(`CREATE SCHEMA ${REFERENCE_SCHEMA}`);
    await db.query(OUTBOX_TABLES_SQL);
  });

  afterAll(async () => {
    await db.close();
    await testDb.drop();
  });

  it.each(services)(
    "when %s's migrations have run, then its outbox and inbox are exactly what OUTBOX_TABLES_SQL creates",
    async (service) => {
      for (const table of TABLES) {
        const reference = await describeTable(db, REFERENCE_SCHEMA, table);
        expect(reference.columns.length).toBeGreaterThan(2);
        expect({ table, ...(await describeTable(db, SERVICE_SCHEMAS[service], table)) }).toEqual({
          table,
          ...reference,
        });
      }
    },
  );

  it.each(services)(
    "when %s's schema.prisma is read, then it models the outbox tables as prisma-models.prisma says",
    (service) => {
      const squeeze = (text: string) => text.replace(/\s+/g, ' ').trim();
      const models = readFileSync(path.join(__dirname, '../prisma-models.prisma'), 'utf8').match(
        /model \w+ \{[\s\S]*?\n\}/g,
      )!;
      const schemaPrisma = squeeze(readFileSync(path.join(SERVICES_DIR, service, 'prisma/schema.prisma'), 'utf8'));
      expect(models.length).toBe(3);
      for (const model of models)
        expect(schemaPrisma).toContain(squeeze(model.replace(/SCHEMA/g, SERVICE_SCHEMAS[service])));
    },
  );
});
