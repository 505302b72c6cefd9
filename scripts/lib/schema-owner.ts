import type pg from 'pg';
import { MIGRATION_ROLE } from '@orrange/config';

/**
 * Relation kinds and the ALTER that changes their owner (sequences owned by a column move with their table, indexes
 * with theirs; a composite type is a relation too).
 */
const RELATION_ALTER: Record<string, string> = {
  r: 'TABLE',
  p: 'TABLE',
  f: 'FOREIGN TABLE',
  v: 'VIEW',
  m: 'MATERIALIZED VIEW',
  S: 'SEQUENCE',
  c: 'TYPE',
};

/** pg_default_acl's object types and the words ALTER DEFAULT PRIVILEGES uses for them. */
const DEFAULT_ACL_OBJECTS: Record<string, string> = { r: 'TABLES', S: 'SEQUENCES', f: 'FUNCTIONS', T: 'TYPES' };

/**
 * Databases set up before the migration role existed have their schemas owned by DATABASE_URL's user, which ran the
 * migrations then. This hands each of `schemas` that `owner` (the migration role) does not own over to it: the schema, every
 * relation, routine and type in it, and the default privileges its old owner set there (what objects created by
 * later migrations are granted to the services' roles), so migrations go on as the migration role. Grants on the
 * objects and their row-level security policies stay as they are (ownership moves its grants along). All in the
 * caller's transaction, which must be one: no function may run as one owner over another owner's tables. Returns the
 * schemas handed over; an object still not the migration role's afterwards is an error, naming it. Sets the
 * transaction's search_path to pg_catalog.
 */
export async function handOverSchemas(
  client: pg.ClientBase,
  schemas: readonly string[],
  owner: string = MIGRATION_ROLE.dbRole,
): Promise<string[]> {
  // Names of objects (regclass, regprocedure, regtype as text) come qualified with their schema on this path.
  await client.query('SET LOCAL search_path = pg_catalog');
  const { rows: foreign } = await client.query<{ schema: string; previous: string }>(
    `SELECT n.nspname AS schema, n.nspowner::regrole::text AS previous FROM pg_namespace n
      WHERE n.nspname = ANY($1::text[]) AND n.nspowner <> $2::regrole ORDER BY n.nspname`,
    [schemas, owner],
  );
  for (const { schema, previous } of foreign) {
    const alter = (sql: string, ...names: string[]) => run(client, sql, names);
    await alter('ALTER SCHEMA %I OWNER TO %I', schema, owner);
    const { rows: relations } = await client.query<{ name: string; kind: string }>(
      `SELECT c.oid::regclass::text AS name, c.relkind::text AS kind FROM pg_class c
        WHERE c.relnamespace = $1::regnamespace AND c.relkind = ANY('{r,p,f,v,m,S,c}') AND c.relowner <> $2::regrole
          AND NOT (c.relkind = 'S' AND EXISTS (
            SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i')))`,
      [schema, owner],
    );
    for (const r of relations) await alter(`ALTER ${RELATION_ALTER[r.kind]} %s OWNER TO %I`, r.name, owner);
    const { rows: routines } = await client.query<{ name: string }>(
      `SELECT p.oid::regprocedure::text AS name FROM pg_proc p WHERE p.pronamespace = $1::regnamespace AND p.proowner <> $2::regrole`,
      [schema, owner],
    );
    for (const r of routines) await alter('ALTER ROUTINE %s OWNER TO %I', r.name, owner);
    const { rows: types } = await client.query<{ name: string }>(
      `SELECT t.oid::regtype::text AS name FROM pg_type t
        WHERE t.typnamespace = $1::regnamespace AND t.typowner <> $2::regrole AND t.typtype IN ('e', 'd', 'r')`,
      [schema, owner],
    );
    for (const t of types) await alter('ALTER TYPE %s OWNER TO %I', t.name, owner);
    const { rows: defaults } = await client.query<{ objects: string; grantee: string; privileges: string }>(
      `SELECT d.defaclobjtype::text AS objects, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(a.grantee::regrole::text) END AS grantee,
              string_agg(a.privilege_type, ', ' ORDER BY a.privilege_type) AS privileges
         FROM pg_default_acl d, aclexplode(d.defaclacl) a
        WHERE d.defaclnamespace = $1::regnamespace AND d.defaclrole = $2::regrole AND a.grantee <> d.defaclrole
        GROUP BY 1, 2 ORDER BY 1, 2`,
      [schema, previous],
    );
    for (const d of defaults)
      await alter(
        `ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT ${d.privileges} ON ${DEFAULT_ACL_OBJECTS[d.objects]} TO %s`,
        owner,
        schema,
        d.grantee,
      );
  }
  const { rows: left } = await client.query<{ object: string }>(
    `SELECT c.oid::regclass::text AS object FROM pg_class c
      WHERE c.relnamespace = ANY(SELECT oid FROM pg_namespace WHERE nspname = ANY($1::text[])) AND c.relowner <> $2::regrole
     UNION ALL
     SELECT p.oid::regprocedure::text FROM pg_proc p
      WHERE p.pronamespace = ANY(SELECT oid FROM pg_namespace WHERE nspname = ANY($1::text[])) AND p.proowner <> $2::regrole`,
    [foreign.map((f) => f.schema), owner],
  );
  if (left.length > 0) throw new Error(`not handed over to ${owner}: ${left.map((l) => l.object).join(', ')}`);
  return foreign.map((f) => f.schema);
}

/** A utility statement with names: format() quotes them on the server (%I an identifier, %s a regclass-style name). */
async function run(client: pg.ClientBase, template: string, names: string[]): Promise<void> {
  const { rows } = await client.query<{ sql: string }>(
    `SELECT format($1, ${names.map((_, i) => `$${i + 2}::text`).join(', ')}) AS sql`,
    [template, ...names],
  );
  await client.query(rows[0]!.sql);
}
