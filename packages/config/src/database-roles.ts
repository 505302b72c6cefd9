import { z } from 'zod';
import { editPostgresUrl } from './postgres-url';
import { serviceInfo, SERVICES, type ServiceInfo, type ServiceName } from './services';

/**
 * Each service connects to Postgres as a role of its own (`orrange_user`, `orrange_order_book`, `orrange_trade`,
 * `orrange_dispute`), granted its own schema and, in another service's schema, EXECUTE on exactly the functions it
 * calls there (its migrations say which). DATABASE_URL names the server, the database and the migration role: the
 * role that runs `db:*` (and so owns every schema, table and SECURITY DEFINER function, which is why row-level
 * security applies to the service roles and not to those functions). A service takes DATABASE_URL's host, port,
 * database and TLS parameters and replaces its user and password with its own role's.
 */

/** A role's development password (the default, refused with NODE_ENV=production like every development secret). */
export function devDatabasePassword(name: ServiceName): string {
  return `${serviceInfo(name).dbRole}-dev-password`;
}

/** Each service role's password variable with the development default, for db:setup and the production check. */
export const DEV_DATABASE_PASSWORDS: ReadonlyArray<[variable: string, devPassword: string]> = SERVICES.map((s) => [
  s.dbPasswordVar,
  devDatabasePassword(s.name),
]);

type PasswordVar<N extends ServiceName> = Extract<ServiceInfo, { name: N }>['dbPasswordVar'];

/** The one variable a service's config adds for its role: `<SERVICE>_DB_PASSWORD`, the development one by default. */
export function databaseRoleSchema<N extends ServiceName>(
  name: N,
): z.ZodObject<Record<PasswordVar<N>, z.ZodDefault<z.ZodString>>> {
  const shape = { [serviceInfo(name).dbPasswordVar]: z.string().min(1).default(devDatabasePassword(name)) };
  return z.object(shape as Record<PasswordVar<N>, z.ZodDefault<z.ZodString>>);
}

/** DATABASE_URL (or a replica's URL; every host of a multi-host one) with the service's role and password in place of the URL's user. */
export function asServiceRole(url: string, name: ServiceName, password: string): string {
  return editPostgresUrl(url, (parsed) => {
    parsed.username = encodeURIComponent(serviceInfo(name).dbRole);
    parsed.password = encodeURIComponent(password);
  });
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
 * Creates the service roles that are missing (LOGIN, nothing else: no superuser, no CREATEROLE, no BYPASSRLS),
 * and with `passwords` sets every role's password to the one given (db:setup, from config); without, leaves the
 * password of a role that exists alone (tests: parallel runs never rewrite a role another run is using). Run over
 * a connection to the server's `postgres` database: the advisory lock serializes concurrent callers there, since
 * two sessions changing the same role at once fail with "tuple concurrently updated".
 */
export async function ensureServiceRoles(
  client: RoleQueryable,
  passwords?: Partial<Record<ServiceName, string>>,
): Promise<string[]> {
  const created: string[] = [];
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [ROLES_LOCK_KEY]);
    for (const service of SERVICES) {
      const { rows } = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [service.dbRole]);
      const password = passwords?.[service.name] ?? devDatabasePassword(service.name);
      if (rows.length > 0 && !passwords) continue;
      const verb = rows.length > 0 ? 'ALTER' : 'CREATE';
      // Utility statements take no parameters: format() quotes the name and the password on the server.
      const { rows: statement } = await client.query(
        `SELECT format('${verb} ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD %L', $1::text, $2::text) AS sql`,
        [service.dbRole, password],
      );
      await client.query(statement[0]!.sql as string);
      if (verb === 'CREATE') created.push(service.dbRole);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  return created;
}
