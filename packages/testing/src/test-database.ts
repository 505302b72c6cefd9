import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';

export const TEST_SERVER_URL = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

export interface SchemaMigrations {
  /** Postgres schema the migrations create objects in. */
  schema: string;
  /** A Prisma migrations folder: one sub-folder per migration, each with migration.sql. */
  dir: string;
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/**
 * A fresh database for one test suite, with the given services' migrations applied, dropped afterwards.
 * Names always contain `test`, and `drop` refuses any other name: tests can never drop real data.
 */
export async function createTestDatabase(migrations: SchemaMigrations[] = []): Promise<TestDatabase> {
  const name = `orrange_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  await adminQuery(`CREATE DATABASE "${name}"`);
  const url = withDatabase(TEST_SERVER_URL, name);
  try {
    for (const m of migrations) await applyMigrations(url, m);
  } catch (error) {
    await dropTestDatabase(name);
    throw error;
  }
  return { name, url, drop: () => dropTestDatabase(name) };
}

export async function applyMigrations(url: string, { schema, dir }: SchemaMigrations): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await client.query(`SET search_path TO "${schema}", public`);
    const folders = existsSync(dir) ? readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort() : [];
    for (const folder of folders) await client.query(readFileSync(join(dir, folder, 'migration.sql'), 'utf8'));
  } finally {
    await client.end();
  }
}

export async function dropTestDatabase(name: string): Promise<void> {
  if (!name.includes('test')) throw new Error(`refusing to drop ${name}: test databases have "test" in their name`);
  await adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: withDatabase(TEST_SERVER_URL, 'postgres') });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
