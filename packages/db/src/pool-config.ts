import type { PoolConfig } from 'pg';
import type { ConnectionOptions } from 'node:tls';
import { editPostgresUrl, firstHostOnly, readPemFile } from '@orrange/config';

export interface PoolSettings {
  /** Postgres schema the service owns; every connection's search_path starts there. */
  schema?: string;
  max?: number;
  statementTimeoutMs?: number;
  idleTimeoutMs?: number;
  connectionTimeoutMs?: number;
  applicationName?: string;
  /**
   * Plans of this pool's connections never choose a sequential scan where an index can serve (enable_seqscan off).
   * For a service whose statements are all index lookups and which keeps their plans for the life of a connection
   * (named statements): a plan made while a table was small or its statistics stale would otherwise scan it whole
   * at every execution as it grows, until the connection ends.
   */
  indexPlansOnly?: boolean;
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
  const parsed = new URL(firstHostOnly(url));
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:')
    throw new Error(`not a postgres URL: ${parsed.protocol}`);
  const options = [
    settings.schema ? `-c search_path=${assertSchemaName(settings.schema)},public` : '',
    settings.statementTimeoutMs ? `-c statement_timeout=${settings.statementTimeoutMs}` : '',
    settings.indexPlansOnly ? '-c enable_seqscan=off' : '',
  ].filter(Boolean);
  return {
    host: decodeURIComponent(parsed.hostname) || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 5432,
    user: decodeURIComponent(parsed.username) || 'postgres',
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    database: decodeURIComponent(parsed.pathname.replace(/^\//, '')) || 'postgres',
    ssl: sslFromUrl(parsed),
    max: settings.max ?? 10,
    idleTimeoutMillis: settings.idleTimeoutMs ?? 30_000,
    connectionTimeoutMillis: settings.connectionTimeoutMs ?? 5_000,
    application_name: settings.applicationName,
    options: options.length ? options.join(' ') : undefined,
  };
}

/** The `sslmode` values of libpq this accepts; `allow` and `prefer` (TLS only if the server offers it) are refused. */
const SSL_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;

/**
 * TLS for a postgres:// URL, from libpq's parameters: `sslmode`, `sslrootcert` (a PEM file, or `system` for the
 * system's CAs, which is also what no `sslrootcert` means), `sslcert` and `sslkey` (a client certificate).
 *
 * The server's certificate is always verified, so `rejectUnauthorized` is never turned off: `verify-full` checks the
 * chain and that the certificate names the host, `verify-ca` (and `require`, stricter here than in libpq, where it
 * verifies nothing without a root certificate) the chain only. A man in the middle of an unverified TLS connection
 * reads the password and every row, so encryption without verification is not offered. `allow` and `prefer` would
 * silently fall back to plaintext and are refused; without `sslmode` the connection is plaintext, as for a local
 * server.
 */
export function sslFromUrl(url: URL): ConnectionOptions | undefined {
  const params = url.searchParams;
  const mode = params.get('sslmode') ?? 'disable';
  if (!(SSL_MODES as readonly string[]).includes(mode))
    throw new Error(`DATABASE_URL: sslmode=${mode} is not supported (use ${SSL_MODES.join(', ')})`);
  if (mode === 'disable') return undefined;
  const rootCert = params.get('sslrootcert');
  const clientCert = params.get('sslcert');
  const clientKey = params.get('sslkey');
  if (Boolean(clientCert) !== Boolean(clientKey)) throw new Error('DATABASE_URL: sslcert and sslkey go together');
  return {
    ...(rootCert && rootCert !== 'system' ? { ca: readPemFile(rootCert, 'DATABASE_URL sslrootcert') } : {}),
    ...(clientCert && clientKey
      ? { cert: readPemFile(clientCert, 'DATABASE_URL sslcert'), key: readPemFile(clientKey, 'DATABASE_URL sslkey') }
      : {}),
    // verify-full keeps Node's default check of the host name against the certificate; the others check the chain only.
    ...(mode === 'verify-full' ? {} : { checkServerIdentity: () => undefined }),
  };
}

/** The same URL pointing at another database on the same server(s) (test clones, the admin `postgres` database). */
export function withDatabase(url: string, database: string): string {
  return editPostgresUrl(url, (parsed) => {
    parsed.pathname = `/${database}`;
  });
}

export function databaseName(url: string): string {
  return decodeURIComponent(new URL(firstHostOnly(url)).pathname.replace(/^\//, ''));
}
