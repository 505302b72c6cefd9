import { z } from 'zod';
import { editPostgresUrl } from './postgres-url';
import { serviceInfo, SERVICES, type ServiceInfo, type ServiceName } from './services';

/**
 * Each service connects to Postgres as a role of its own (`orrange_user`, `orrange_order_book`, `orrange_trade`,
 * `orrange_dispute`), granted its own schema and, in another service's schema, EXECUTE on exactly the functions it
 * calls there (its migrations say which). The migration role (`orrange_migrator`) runs every migration and so owns
 * every schema, table and SECURITY DEFINER function, which is why row-level security applies to the service roles
 * and not to those functions. DATABASE_URL names the server, the database and an administrator, which creates the
 * roles and the database and nothing else: the migration role and each service take DATABASE_URL's host, port,
 * database and TLS parameters and replace its user and password with their own.
 */

/** The role that runs the migrations and owns what they create; not a service's. */
export const MIGRATION_ROLE = { dbRole: 'orrange_migrator', dbPasswordVar: 'MIGRATOR_DB_PASSWORD' } as const;

/** Every role db:setup creates, each with the variable of its password: the services' and the migration role. */
export const DATABASE_ROLES: ReadonlyArray<{ dbRole: string; dbPasswordVar: string }> = [...SERVICES, MIGRATION_ROLE];

/** A role's development password (the default, refused with NODE_ENV=production like every development secret). */
function devRolePassword(dbRole: string): string {
  return `${dbRole}-dev-password`;
}

/** A service role's development password. */
export function devDatabasePassword(name: ServiceName): string {
  return devRolePassword(serviceInfo(name).dbRole);
}

/** Each role's password variable with the development default, for db:setup and the production check. */
export const DEV_DATABASE_PASSWORDS: ReadonlyArray<[variable: string, devPassword: string]> = DATABASE_ROLES.map(
  (r) => [r.dbPasswordVar, devRolePassword(r.dbRole)],
);

/** Each role's password from `env` (its `<ROLE>_DB_PASSWORD`), the development one when unset, by role name. */
export function rolePasswordsFrom(env: Partial<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(DATABASE_ROLES.map((r) => [r.dbRole, env[r.dbPasswordVar] || devRolePassword(r.dbRole)]));
}

type PasswordVar<N extends ServiceName> = Extract<ServiceInfo, { name: N }>['dbPasswordVar'];

/** The one variable a service's config adds for its role: `<SERVICE>_DB_PASSWORD`, the development one by default. */
export function databaseRoleSchema<N extends ServiceName>(
  name: N,
): z.ZodObject<Record<PasswordVar<N>, z.ZodDefault<z.ZodString>>> {
  const shape = { [serviceInfo(name).dbPasswordVar]: z.string().min(1).default(devDatabasePassword(name)) };
  return z.object(shape as Record<PasswordVar<N>, z.ZodDefault<z.ZodString>>);
}

/** A Postgres URL (every host of a multi-host one) with `dbRole` and its password in place of the URL's user. */
function asRole(url: string, dbRole: string, password: string): string {
  return editPostgresUrl(url, (parsed) => {
    parsed.username = encodeURIComponent(dbRole);
    parsed.password = encodeURIComponent(password);
  });
}

/**
 * DATABASE_URL as the migration role, with MIGRATOR_DB_PASSWORD from `env` (the development one when unset): what
 * the Prisma CLI, the db commands past creating roles and the database, and the tests' migration runner connect as.
 */
export function asMigrationRole(url: string, env: Partial<Record<string, string>>): string {
  return asRole(url, MIGRATION_ROLE.dbRole, rolePasswordsFrom(env)[MIGRATION_ROLE.dbRole]!);
}

/** DATABASE_URL (or a replica's URL; every host of a multi-host one) with the service's role and password in place of the URL's user. */
export function asServiceRole(url: string, name: ServiceName, password: string): string {
  return asRole(url, serviceInfo(name).dbRole, password);
}

/** The primary and replica URLs a service connects to, as its role, from its parsed config. */
export function serviceDatabaseUrls(
  name: ServiceName,
  config: { DATABASE_URL: string; DATABASE_REPLICA_URLS: string[] } & Partial<Record<string, unknown>>,
): { url: string; replicaUrls: string[] } {
  const password = config[serviceInfo(name).dbPasswordVar];
  if (typeof password !== 'string')
    throw new Error(
      `${serviceInfo(name).dbPasswordVar} is missing from ${name}'s config (extend its schema with databaseRoleSchema)`,
    );
  return {
    url: asServiceRole(config.DATABASE_URL, name, password),
    replicaUrls: config.DATABASE_REPLICA_URLS.map((u) => asServiceRole(u, name, password)),
  };
}

/** The little of a pg client this needs (config has no pg dependency). */
export interface RoleQueryable {
  query(sql: string, params?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>;
}

/** Advisory lock key of role changes; roles are cluster-wide, so every caller takes it in the `postgres` database. */
const ROLES_LOCK_KEY = 0x7e57_0e1e;

/**
 * Creates the roles that are missing, the services' and the migration role (LOGIN, nothing else: no superuser, no
 * CREATEROLE, no CREATEDB, no BYPASSRLS), and with `passwords` (by role, see rolePasswordsFrom) sets every role's
 * password to the one given (db:setup, from config); without, leaves the password of a role that exists alone
 * (tests: parallel runs never rewrite a role another run is using). Run over a connection to the server's
 * `postgres` database: the advisory lock serializes concurrent callers there, since two sessions changing the same
 * role at once fail with "tuple concurrently updated".
 */
export async function ensureDatabaseRoles(
  client: RoleQueryable,
  passwords?: Readonly<Record<string, string>>,
): Promise<string[]> {
  const created: string[] = [];
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [ROLES_LOCK_KEY]);
    for (const { dbRole } of DATABASE_ROLES) {
      const { rows } = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [dbRole]);
      if (rows.length > 0 && !passwords) continue;
      const password = passwords?.[dbRole] ?? devRolePassword(dbRole);
      const verb = rows.length > 0 ? 'ALTER' : 'CREATE';
      // Utility statements take no parameters: format() quotes the name and the password on the server.
      const { rows: statement } = await client.query(
        `SELECT format('${verb} ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD %L', $1::text, $2::text) AS sql`,
        [dbRole, password],
      );
      await client.query(statement[0]!.sql as string);
      if (verb === 'CREATE') created.push(dbRole);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  return created;
}

/**
 * Lets the migration role create schemas in `database` (its migrations begin with CREATE SCHEMA), as an
 * administrator connected to that server. The database itself stays the administrator's.
 */
export async function grantMigrationRole(client: RoleQueryable, database: string): Promise<void> {
  const { rows } = await client.query(`SELECT format('GRANT CREATE ON DATABASE %I TO %I', $1::text, $2::text) AS sql`, [
    database,
    MIGRATION_ROLE.dbRole,
  ]);
  await client.query(rows[0]!.sql as string);
}
