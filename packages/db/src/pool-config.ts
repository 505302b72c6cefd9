import type { PoolConfig } from 'pg';

export interface PoolSettings {
  /** Postgres schema the service owns; every connection's search_path starts there. */
  schema?: string;
  max?: number;
  statementTimeoutMs?: number;
  idleTimeoutMs?: number;
  connectionTimeoutMs?: number;
  applicationName?: string;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function assertSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) throw new Error(`invalid schema name: ${schema}`);
  return schema;
}

/**
 * Turns a postgres:// URL into discrete pg fields. Discrete fields (not `connectionString`) matter: Prisma's
 * adapter derives the shadow database from `database`, and a connection string would override it.
 */
export function poolConfigFromUrl(url: string, settings: PoolSettings = {}): PoolConfig {
  const parsed = new URL(url);
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') throw new Error(`not a postgres URL: ${parsed.protocol}`);
  const options = [
    settings.schema ? `-c search_path=${assertSchemaName(settings.schema)},public` : '',
    settings.statementTimeoutMs ? `-c statement_timeout=${settings.statementTimeoutMs}` : '',
  ].filter(Boolean);
  return {
    host: decodeURIComponent(parsed.hostname) || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 5432,
    user: decodeURIComponent(parsed.username) || 'postgres',
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    database: decodeURIComponent(parsed.pathname.replace(/^\//, '')) || 'postgres',
    ssl: parsed.searchParams.get('sslmode') === 'require' ? { rejectUnauthorized: false } : undefined,
    max: settings.max ?? 10,
    idleTimeoutMillis: settings.idleTimeoutMs ?? 30_000,
    connectionTimeoutMillis: settings.connectionTimeoutMs ?? 5_000,
    application_name: settings.applicationName,
    options: options.length ? options.join(' ') : undefined,
  };
}

/** The same URL pointing at another database on the same server (test clones, the admin `postgres` database). */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
}
