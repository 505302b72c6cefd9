import { readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import pg from 'pg';
import { Redis } from 'ioredis';
import {
  asMigrationRole,
  assertNoDevSecrets,
  ConfigError,
  DATABASE_ROLES,
  ensureDatabaseRoles,
  grantMigrationRole,
  redactUrl,
  redisTlsOptions,
  rolePasswordsFrom,
} from '@orrange/config';
import { databaseName, poolConfigFromUrl, withDatabase } from '@orrange/db';
import { handOverSchemas } from './schema-owner';
import { ROOT, serviceDir, SERVICES, type ServiceInfo } from './services';

/** A failure the operator can act on: printed as one line, no stack trace. */
export class OperatorError extends Error {}

const START_HINT =
  'start them with `docker compose -f docker-compose.yml -f docker-compose.dev.yml up -d postgres redis` (or your local services)';

/** The server's `postgres` database, from which databases are created and dropped. */
function adminUrl(databaseUrl: string): string {
  return withDatabase(databaseUrl, 'postgres');
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  // The services' own mapping of the URL (sslmode, sslrootcert: TLS verified as they verify it).
  const client = new pg.Client({ ...poolConfigFromUrl(url), connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
  } catch (error) {
    throw new OperatorError(
      `PostgreSQL is not reachable at ${redactUrl(url)} (${(error as Error).message || (error as { code?: string }).code}); ${START_HINT}.`,
    );
  }
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Connects to the server and measures one round trip. */
export async function pingPostgres(
  databaseUrl: string,
): Promise<{ latencyMs: number; version: string; maxConnections: number; connections: number }> {
  return withClient(adminUrl(databaseUrl), async (client) => {
    const startedAt = performance.now();
    await client.query('SELECT 1');
    const latencyMs = Math.round((performance.now() - startedAt) * 100) / 100;
    const { rows } = await client.query(
      `SELECT current_setting('server_version') AS version, current_setting('max_connections')::int AS max, (SELECT count(*)::int FROM pg_stat_activity) AS used`,
    );
    return { latencyMs, version: rows[0].version, maxConnections: rows[0].max, connections: rows[0].used };
  });
}

export interface RedisInfo {
  latencyMs: number;
  version: string;
  usedMemory: string;
  peakMemory: string;
  /** `0B` means no limit. */
  maxMemory: string;
  maxMemoryPolicy: string;
  connectedClients: number;
  blockedClients: number;
  maxClients: number;
}

/** One field of an INFO answer (`name:value` lines). */
function infoField(info: string, name: string): string {
  return new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? 'unknown';
}

export async function pingRedis(redisUrl: string): Promise<RedisInfo> {
  const redis = new Redis(redisUrl, {
    ...redisTlsOptions(redisUrl, process.env.REDIS_TLS_CA_FILE),
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 3000,
  });
  let lastError: Error | undefined;
  redis.on('error', (error) => (lastError = error));
  try {
    await redis.connect();
    const startedAt = performance.now();
    await redis.ping();
    const latencyMs = Math.round((performance.now() - startedAt) * 100) / 100;
    const info = [await redis.info('server'), await redis.info('memory'), await redis.info('clients')].join('\n');
    return {
      latencyMs,
      version: infoField(info, 'redis_version'),
      usedMemory: infoField(info, 'used_memory_human'),
      peakMemory: infoField(info, 'used_memory_peak_human'),
      maxMemory: infoField(info, 'maxmemory_human'),
      maxMemoryPolicy: infoField(info, 'maxmemory_policy'),
      connectedClients: Number(infoField(info, 'connected_clients')),
      blockedClients: Number(infoField(info, 'blocked_clients')),
      maxClients: Number(infoField(info, 'maxclients')),
    };
  } catch (error) {
    throw new OperatorError(
      `Redis is not reachable at ${redactUrl(redisUrl)} (${(lastError ?? (error as Error)).message}); ${START_HINT}.`,
    );
  } finally {
    redis.disconnect();
  }
}

export async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  const name = databaseName(databaseUrl);
  return withClient(adminUrl(databaseUrl), async (client) => {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount) return false;
    await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    return true;
  });
}

/**
 * Each role's password from the environment (`USER_DB_PASSWORD`, …, what the services read, and
 * `MIGRATOR_DB_PASSWORD`), by role, the development one when unset; with NODE_ENV=production a development one is
 * refused, as the services refuse theirs.
 */
export function rolePasswords(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const passwords = rolePasswordsFrom(env);
  try {
    assertNoDevSecrets({
      NODE_ENV: env.NODE_ENV ?? 'development',
      ...Object.fromEntries(DATABASE_ROLES.map((r) => [r.dbPasswordVar, passwords[r.dbRole]])),
    });
  } catch (error) {
    if (error instanceof ConfigError) throw new OperatorError(error.issues.join('; '));
    throw error;
  }
  return passwords;
}

/**
 * The services' roles and the migration role (cluster-wide), created when missing and given the configured
 * passwords: before any migration, which runs as the one and grants to the others. Returns the roles it created.
 */
export async function ensureRoles(
  databaseUrl: string,
  passwords: Record<string, string> = rolePasswords(),
): Promise<string[]> {
  return withClient(adminUrl(databaseUrl), (client) => ensureDatabaseRoles(client, passwords));
}

/**
 * What the migration role needs in the database before it migrates, done as DATABASE_URL's administrator: the right to
 * create schemas, and the services' schemas of a database migrated before it existed (see handOverSchemas). Returns
 * the schemas handed over.
 */
export async function prepareMigrationRole(databaseUrl: string): Promise<string[]> {
  return withClient(databaseUrl, async (client) => {
    await grantMigrationRole(client, databaseName(databaseUrl));
    await client.query('BEGIN');
    try {
      const handedOver = await handOverSchemas(
        client,
        SERVICES.map((s) => s.schema),
      );
      await client.query('COMMIT');
      return handedOver;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  });
}

export async function dropDatabase(databaseUrl: string): Promise<void> {
  const name = databaseName(databaseUrl);
  await withClient(adminUrl(databaseUrl), (client) =>
    client.query(`DROP DATABASE IF EXISTS "${name.replace(/"/g, '""')}" WITH (FORCE)`),
  );
}

/**
 * Runs a command, failing with its output when it fails. With `doneWhen`, output matching it means the work is
 * done: the command is stopped instead of waiting for it to exit by itself.
 */
export function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; quiet?: boolean; doneWhen?: RegExp },
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let done = false;
    const collect = (chunk: Buffer) => {
      output += chunk;
      if (!done && options.doneWhen?.test(output)) {
        done = true;
        child.kill('SIGTERM');
      }
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 || done
        ? resolve(output)
        : reject(
            new OperatorError(
              `${command} ${args.join(' ')} failed in ${path.relative(ROOT, options.cwd) || '.'}:\n${output.trim()}`,
            ),
          ),
    );
  });
}

const PRISMA = path.join(ROOT, 'node_modules', '.bin', 'prisma');

/**
 * What `prisma migrate deploy` prints last, once everything is applied and committed. Prisma 6.19's CLI then
 * lingers ~10 s (a timer of its engine that nothing clears) still holding its advisory lock: seen this, we stop
 * it, which closes its connection and so releases the lock.
 */
const MIGRATE_DEPLOY_DONE = /All migrations have been successfully applied\.|No pending migrations to apply\./;

export function prisma(service: ServiceInfo, args: string[], databaseUrl: string, doneWhen?: RegExp): Promise<string> {
  return run(PRISMA, args, {
    cwd: serviceDir(service.name),
    env: { DATABASE_URL: databaseUrl, NODE_OPTIONS: '--conditions=@orrange/source', CHECKPOINT_DISABLE: '1' },
    doneWhen,
  });
}

/**
 * `prisma migrate deploy` for every service with something to apply (a service that is up to date costs no CLI
 * start), each in its own schema with its own history, one after the other: they share Prisma's advisory lock.
 */
export async function migrateAll(databaseUrl: string, log: (line: string) => void): Promise<void> {
  const created = await ensureRoles(databaseUrl);
  log(created.length ? `created roles ${created.join(', ')}` : 'database roles present, passwords set from config');
  const handedOver = await prepareMigrationRole(databaseUrl);
  if (handedOver.length) log(`schemas ${handedOver.join(', ')} handed over to the migration role`);
  for (const status of await migrationStatus(databaseUrl)) {
    if (status.pending.length === 0 && status.failed.length === 0) {
      log(`${status.service} is up to date (schema ${status.schema}, ${status.applied} migrations)`);
      continue;
    }
    const service = SERVICES.find((s) => s.name === status.service)!;
    await prisma(service, ['migrate', 'deploy'], databaseUrl, MIGRATE_DEPLOY_DONE);
    log(
      `migrated ${service.name} (schema ${service.schema}, ${status.pending.length} applied now, ${status.applied} before)`,
    );
  }
}

export interface MigrationStatus {
  service: string;
  schema: string;
  applied: number;
  pending: string[];
  failed: string[];
}

/**
 * Compares each service's migrations folder with its `_prisma_migrations` table (no CLI start-up cost), read as the
 * migration role, whose tables they are.
 */
export async function migrationStatus(databaseUrl: string): Promise<MigrationStatus[]> {
  return withClient(asMigrationRole(databaseUrl, process.env), async (client) => {
    const statuses: MigrationStatus[] = [];
    for (const service of SERVICES) {
      const dir = path.join(serviceDir(service.name), 'prisma', 'migrations');
      const local = existsSync(dir)
        ? readdirSync(dir, { withFileTypes: true })
            .filter((e) => e.isDirectory())
            .map((e) => e.name)
        : [];
      const { rows } = await client
        .query(`SELECT migration_name, finished_at, rolled_back_at FROM "${service.schema}"._prisma_migrations`)
        .catch(() => ({
          rows: [] as Array<{ migration_name: string; finished_at: Date | null; rolled_back_at: Date | null }>,
        }));
      const done = new Set(rows.filter((r) => r.finished_at && !r.rolled_back_at).map((r) => r.migration_name));
      statuses.push({
        service: service.name,
        schema: service.schema,
        applied: done.size,
        pending: local.filter((name) => !done.has(name)),
        failed: rows.filter((r) => !r.finished_at && !r.rolled_back_at).map((r) => r.migration_name),
      });
    }
    return statuses;
  });
}

/** How many of the slowest statements db:health lists. */
export const SLOW_STATEMENTS_LISTED = 5;
/** A statement running longer than this is listed by db:health as running now. */
const RUNNING_SLOW_MS = 1_000;

export type SlowStatements =
  | {
      source: 'pg_stat_statements';
      statements: Array<{ query: string; calls: number; meanMs: number; totalMs: number }>;
    }
  | { source: 'unavailable'; hint: string };

/**
 * The statements of this database that took longest on average, from pg_stat_statements when the server loads it
 * and the extension exists in the database; otherwise how to enable it (it must be preloaded, so it cannot be
 * switched on from here).
 */
export async function slowestStatements(databaseUrl: string): Promise<SlowStatements> {
  return withClient(databaseUrl, async (client) => {
    const { rows: state } = await client.query<{ preloaded: boolean; created: boolean }>(
      `SELECT 'pg_stat_statements' = ANY (string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ',')) AS preloaded,
              EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements') AS created`,
    );
    const { preloaded, created } = state[0]!;
    if (!preloaded) {
      return {
        source: 'unavailable',
        hint: "pg_stat_statements is not loaded: add shared_preload_libraries = 'pg_stat_statements' to postgresql.conf (compose: -c shared_preload_libraries=pg_stat_statements), restart Postgres, then run CREATE EXTENSION pg_stat_statements in this database",
      };
    }
    if (!created)
      return {
        source: 'unavailable',
        hint: `pg_stat_statements is loaded but not created in ${databaseName(databaseUrl)}: run CREATE EXTENSION pg_stat_statements there`,
      };
    const { rows } = await client.query<{ query: string; calls: string; mean_ms: number; total_ms: number }>(
      `SELECT regexp_replace(query, '\\s+', ' ', 'g') AS query, calls, round(mean_exec_time::numeric, 2)::float8 AS mean_ms, round(total_exec_time::numeric, 1)::float8 AS total_ms
         FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        ORDER BY mean_exec_time DESC LIMIT $1`,
      [SLOW_STATEMENTS_LISTED],
    );
    return {
      source: 'pg_stat_statements',
      statements: rows.map((r) => ({ query: r.query, calls: Number(r.calls), meanMs: r.mean_ms, totalMs: r.total_ms })),
    };
  });
}

/** Statements of this database running longer than RUNNING_SLOW_MS right now (pg_stat_activity: always there). */
export async function runningSlowStatements(
  databaseUrl: string,
): Promise<Array<{ pid: number; runningMs: number; state: string; query: string }>> {
  return withClient(databaseUrl, async (client) => {
    const { rows } = await client.query<{ pid: number; running_ms: number; state: string; query: string }>(
      `SELECT pid, (extract(epoch FROM clock_timestamp() - query_start) * 1000)::int AS running_ms, state, regexp_replace(query, '\\s+', ' ', 'g') AS query
         FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle' AND query_start < clock_timestamp() - make_interval(secs => $1 / 1000.0)
        ORDER BY query_start LIMIT $2`,
      [RUNNING_SLOW_MS, SLOW_STATEMENTS_LISTED],
    );
    return rows.map((r) => ({ pid: r.pid, runningMs: r.running_ms, state: r.state, query: r.query }));
  });
}
