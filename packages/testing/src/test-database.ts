import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { asMigrationRole, ensureDatabaseRoles, grantMigrationRole } from '@orrange/config';

export const TEST_SERVER_URL =
  process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

/** Every migrated template's name starts with this (and contains "test", so `dropTestDatabase` accepts it). */
export const TEMPLATE_PREFIX = 'orrange_test_tpl_';

/** A template nobody has cloned for this long is dropped, whatever its schema set (a harness that changed its list leaves one). */
const TEMPLATE_MAX_IDLE_MS = 7 * 24 * 60 * 60 * 1000;

/** Changes whenever the way a template is built changes, so older templates are never reused. */
const TEMPLATE_FORMAT = '2';

/** First key of the advisory locks taken while templates are built, cloned or dropped (the second is the schema set's). */
const TEMPLATE_LOCK_CLASS = 0x7e57db;

export interface SchemaMigrations {
  /** Postgres schema the migrations create objects in. */
  schema: string;
  /** A Prisma migrations folder: one sub-folder per migration, each with migration.sql. */
  dir: string;
}

export interface TestDatabase {
  name: string;
  /**
   * As the server's administrator (TEST_SERVER_URL's user), whom neither grants nor row-level security stop. Every
   * migrated object is the migration role's, which ran the migrations as db:setup does; services connect as their
   * own roles (database-roles.ts).
   */
  url: string;
  /**
   * A statement as the administrator: for what a test does around the service under test (funding another service's
   * ledger, reading or planting its rows), which that service's own role is rightly refused.
   */
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  /** One transaction as the administrator (committed when `work` resolves, rolled back when it throws). */
  transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T>;
  drop(): Promise<void>;
}

/**
 * A fresh database for one test suite, with the given services' migrations applied, dropped afterwards.
 * With migrations, it is a clone (`CREATE DATABASE … TEMPLATE`) of a template migrated once per schema set and
 * migration contents, so a suite pays for a file copy instead of replaying every migration.
 * Names always contain `test`, and `drop` refuses any other name: tests can never drop real data. `searchPath`: the
 * schema `query` and `transaction` name tables in when a statement does not (the suite's service's).
 */
export async function createTestDatabase(
  migrations: SchemaMigrations[] = [],
  options: { searchPath?: string } = {},
): Promise<TestDatabase> {
  await serviceRolesReady();
  const name = `orrange_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  if (migrations.length === 0) await adminQuery(`CREATE DATABASE "${name}"`);
  else await cloneMigratedTemplate(name, migrations);
  const url = withDatabase(TEST_SERVER_URL, name);
  let owner: pg.Pool | undefined;
  const pool = () => {
    if (owner) return owner;
    owner = new pg.Pool({
      connectionString: url,
      max: 2,
      options: options.searchPath ? `-c search_path=${options.searchPath},public` : undefined,
    });
    // pool.end() resolves before its connections have closed, and `drop` terminates what is left (WITH FORCE): a
    // connection ended that way emits 'error', which without a listener fails the suite that was already done.
    owner.on('error', () => undefined);
    owner.on('connect', (client) => client.on('error', () => undefined));
    return owner;
  };
  const transaction = async <T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
    const client = await pool().connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  };
  return {
    name,
    url,
    query: async <R>(sql: string, params?: unknown[]) => (await pool().query(sql, params)).rows as R[],
    transaction,
    drop: async () => {
      await owner?.end();
      await dropTestDatabase(name);
    },
  };
}

let rolesReady: Promise<unknown> | undefined;

/**
 * The services' roles, which the migrations grant to and the services connect as (so every suite runs its service
 * with the grants production has). Roles are cluster-wide: created once if missing, never altered, so parallel
 * runs never fight over them; a failed attempt is tried again by the next suite.
 */
function serviceRolesReady(): Promise<unknown> {
  rolesReady ??= withAdminClient((client) => ensureDatabaseRoles(client)).catch((error: unknown) => {
    rolesReady = undefined;
    throw error;
  });
  return rolesReady;
}

/**
 * Applies a service's migrations to the database of `url` (its user an administrator of the server) as the migration
 * role, as db:setup does: what they create is the migration role's, never the administrator's.
 */
export async function applyMigrations(url: string, { schema, dir }: SchemaMigrations): Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    // The migrations grant to the services' roles and run as the migration role: on a server of its own (a test's
    // private primary) the roles are made here; on the shared one createTestDatabase made them first, so this only
    // finds them.
    await ensureDatabaseRoles(admin);
    await grantMigrationRole(admin, decodeURIComponent(new URL(url).pathname.slice(1)));
  } finally {
    await admin.end();
  }
  // The development password: tests create the roles with it and never change it.
  const client = new pg.Client({ connectionString: asMigrationRole(url, {}) });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await client.query(`SET search_path TO "${schema}", public`);
    for (const file of migrationFiles(dir)) {
      for (const statement of asPrismaSplitsIt(readFileSync(file, 'utf8'))) {
        await client.query(statement).catch((error: Error) => {
          throw new Error(
            `${file}: ${error.message} (Prisma splits a migration at every ';', in comments and strings too: see README, Database commands)`,
          );
        });
      }
    }
  } finally {
    await client.end();
  }
}

/**
 * A migration script cut where Prisma's migration runner cuts it: at every `;`, even inside a comment or a string. The
 * tests apply migrations the same way, so that a script Prisma would break fails every suite of its service at once,
 * not only the end-to-end run of `db:setup`.
 */
export function asPrismaSplitsIt(script: string): string[] {
  return script.split(';').filter((piece) => piece.replace(/--[^\n]*/g, '').trim() !== '');
}

export async function dropTestDatabase(name: string): Promise<void> {
  if (!name.includes('test')) throw new Error(`refusing to drop ${name}: test databases have "test" in their name`);
  await adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}

/**
 * The template's name says which schema set it serves (`set`: the schemas and folders, in order) and what it holds
 * (`contents`: every migration file's bytes), so an edited or added migration makes a new template and the old
 * one of the same set becomes stale.
 */
export function templateIdentity(migrations: SchemaMigrations[]): { set: string; contents: string; name: string } {
  const set = createHash('sha256');
  const contents = createHash('sha256').update(TEMPLATE_FORMAT);
  for (const { schema, dir } of migrations) {
    set.update(`${schema}\0${resolve(dir)}\0`);
    contents.update(`${schema}\0`);
    for (const file of migrationFiles(dir))
      contents
        .update(`${file.slice(resolve(dir).length)}\0`)
        .update(readFileSync(file))
        .update('\0');
  }
  const setKey = set.digest('hex').slice(0, 12);
  const contentsKey = contents.digest('hex').slice(0, 16);
  return { set: setKey, contents: contentsKey, name: `${TEMPLATE_PREFIX}${setKey}_${contentsKey}` };
}

/**
 * Under an advisory lock of the schema set (one builder per set on the machine; the others wait, then clone):
 * builds the template if it is missing or was left half-built, drops the set's stale templates, and clones it.
 * Nobody stays connected to a template: the builder disconnects before marking it complete, and cloning holds
 * the lock, so a stale template is never dropped under a clone.
 */
async function cloneMigratedTemplate(name: string, migrations: SchemaMigrations[]): Promise<void> {
  const template = templateIdentity(migrations);
  const admin = new pg.Client({ connectionString: withDatabase(TEST_SERVER_URL, 'postgres') });
  await admin.connect();
  try {
    await admin.query('SELECT pg_advisory_lock($1, hashtext($2))', [TEMPLATE_LOCK_CLASS, template.set]);
    await dropStaleTemplates(admin, template);
    const existing = await admin.query<{ complete: boolean }>(
      'SELECT datistemplate AS complete FROM pg_database WHERE datname = $1',
      [template.name],
    );
    if (!existing.rows[0]?.complete) await buildTemplate(admin, template.name, migrations);
    await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${template.name}"`);
    // When it was last cloned, for the idle sweep of templates whose schema set no harness asks for any more.
    await admin.query(`COMMENT ON DATABASE "${template.name}" IS '${new Date().toISOString()}'`);
  } finally {
    await admin.end(); // ends the session, and with it the advisory lock
  }
}

/** A complete template has `datistemplate` set: one left by a builder that died half-way is rebuilt from scratch. */
async function buildTemplate(admin: pg.Client, template: string, migrations: SchemaMigrations[]): Promise<void> {
  await admin.query(`DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`);
  await admin.query(`CREATE DATABASE "${template}"`);
  const url = withDatabase(TEST_SERVER_URL, template);
  try {
    for (const m of migrations) await applyMigrations(url, m);
  } catch (error) {
    await admin.query(`DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`);
    throw error;
  }
  await admin.query(`ALTER DATABASE "${template}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`);
}

/**
 * The same set's templates with other contents (older migrations), and any other set's template nobody has
 * cloned for a week (its harness changed its schema list, or its checkout is gone) whose lock is free.
 */
async function dropStaleTemplates(admin: pg.Client, current: { set: string; name: string }): Promise<void> {
  const { rows } = await admin.query<{ name: string; lastUsed: string | null }>(
    `SELECT d.datname AS name, shobj_description(d.oid, 'pg_database') AS "lastUsed"
       FROM pg_database d WHERE starts_with(d.datname, $1) AND d.datname <> $2`,
    [TEMPLATE_PREFIX, current.name],
  );
  for (const { name, lastUsed } of rows) {
    const set = name.slice(TEMPLATE_PREFIX.length).split('_')[0];
    if (set === current.set) {
      await dropTemplate(admin, name); // we hold this set's lock: nobody is cloning it
      continue;
    }
    if (!(Date.now() - Date.parse(lastUsed ?? '') > TEMPLATE_MAX_IDLE_MS)) continue;
    // Another set's lock, without waiting (two runs waiting on each other's set would deadlock): held means in use.
    const { rows: locked } = await admin.query<{ mine: boolean }>(
      'SELECT pg_try_advisory_lock($1, hashtext($2)) AS mine',
      [TEMPLATE_LOCK_CLASS, set],
    );
    if (!locked[0]?.mine) continue;
    try {
      await dropTemplate(admin, name);
    } finally {
      await admin.query('SELECT pg_advisory_unlock($1, hashtext($2))', [TEMPLATE_LOCK_CLASS, set]);
    }
  }
}

async function dropTemplate(admin: pg.Client, name: string): Promise<void> {
  await admin.query(`ALTER DATABASE "${name}" WITH IS_TEMPLATE false`);
  await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}

function migrationFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const folders = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  return folders.map((folder) => join(dir, folder, 'migration.sql'));
}

async function adminQuery(sql: string): Promise<void> {
  await withAdminClient((client) => client.query(sql));
}

async function withAdminClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: withDatabase(TEST_SERVER_URL, 'postgres') });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
