/**
 * The database commands of the root package.json:
 *   db:setup      create the database if missing, migrate every service, seed the admin
 *   db:migrate    apply every service's pending migrations (each in its own schema)
 *   db:seed       create the admin from ADMIN_EMAIL / ADMIN_PASSWORD (never promotes an existing account), then,
 *                 outside production, development data through the API of a stack it runs on free ports
 *   db:health     Postgres and Redis reachability and latency, pool stats, migration status per service
 *   db:studio     Prisma Studio for one service: `pnpm db:studio <service>` (without one: asks which)
 *   db:reset      drop and recreate the database, then setup (refuses with NODE_ENV=production)
 *   dev:database  check Postgres and Redis, setup, health, then the whole stack from its sources, each service
 *                 restarted when its code changes: development from nothing in one command
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { asMigrationRole } from '@orrange/config';
import { Database, databaseName } from '@orrange/db';
import { freePort } from '@orrange/testing';
import { DEV_USER_PASSWORD, seedDevelopmentData } from './lib/dev-data';
import {
  dropDatabase,
  ensureDatabase,
  migrateAll,
  migrationStatus,
  OperatorError,
  pingPostgres,
  pingRedis,
  runningSlowStatements,
  slowestStatements,
} from './lib/infra';
import { serveStack } from './lib/serve';
import { allocatePorts, stackSpecs, startProcesses, stopAll, type StackPorts } from './lib/stack';
import { loadDotEnv, ROOT, serviceDir, SERVICES, setting } from './lib/services';

const log = (line: string) => console.log(`[db] ${line}`);

export async function setup(): Promise<void> {
  const url = setting('DATABASE_URL');
  await pingPostgres(url);
  if (await ensureDatabase(url)) log(`created database ${databaseName(url)}`);
  await migrateAll(url, log);
  await seed();
}

export async function seed(): Promise<void> {
  // Imported lazily: the user service owns how an admin is stored.
  const { seedAdmin, SeedRefusedError } = (await import(
    path.join(ROOT, 'services/user/src/seed')
  )) as typeof import('../services/user/src/seed');
  const email = setting('ADMIN_EMAIL');
  const result = await seedAdmin({
    // As the migration role, which owns the user service's tables: the admin is written as a migration would.
    databaseUrl: asMigrationRole(setting('DATABASE_URL'), process.env),
    email,
    password: setting('ADMIN_PASSWORD'),
    production: process.env.NODE_ENV === 'production',
  }).catch((error: unknown) => {
    throw error instanceof SeedRefusedError ? new OperatorError(`seed refused: ${error.message}`) : error;
  });
  log(result.created ? `created admin ${email}` : `admin ${email} already present`);
}

/** Service log lines kept to explain a failed development seed. */
const SEED_LOG_LINES_KEPT = 40;

/**
 * Development data, written through the public API of a stack started for the purpose on free ports (so a stack
 * already running on the default ones is no obstacle), then stopped. Never in production.
 */
async function seedDevData(): Promise<void> {
  if (process.env.NODE_ENV === 'production') {
    log('development data: not written with NODE_ENV=production');
    return;
  }
  const ports: StackPorts = await allocatePorts(freePort);
  // The seed signs in a handful of times in a row: the per-IP limits of login and registration would stop it.
  const limits = {
    RATE_LIMIT_PER_MINUTE: '100000',
    AUTH_RATE_LIMIT_PER_MINUTE: '100000',
    LOGIN_ACCOUNT_RATE_LIMIT_PER_MINUTE: '100000',
  };
  const env = { DATABASE_URL: setting('DATABASE_URL'), REDIS_URL: setting('REDIS_URL'), LOG_LEVEL: 'warn', ...limits };
  const lines: string[] = [];
  log('development data: starting the stack on free ports to write it through the API…');
  const running = await startProcesses(stackSpecs(env, ports), {
    mode: 'source',
    onLine: (label, line) => lines.push(`${label} | ${line}`),
  });
  try {
    const summary = await seedDevelopmentData(`http://127.0.0.1:${ports.gateway}`, {
      email: setting('ADMIN_EMAIL'),
      password: setting('ADMIN_PASSWORD'),
    });
    log(
      summary.created.length
        ? `development data: ${summary.created.length} things created`
        : 'development data: already present, nothing changed',
    );
    log(`development users (password ${DEV_USER_PASSWORD}): ${summary.users.join(', ')}`);
  } catch (error) {
    if (lines.length) console.error(lines.slice(-SEED_LOG_LINES_KEPT).join('\n'));
    throw error;
  } finally {
    await stopAll(running);
  }
}

async function health(): Promise<boolean> {
  const url = setting('DATABASE_URL');
  const pgInfo = await pingPostgres(url);
  log(
    `postgres ok: ${pgInfo.latencyMs} ms round trip, server ${pgInfo.version}, ${pgInfo.connections}/${pgInfo.maxConnections} connections in use`,
  );
  const redisInfo = await pingRedis(setting('REDIS_URL'));
  log(`redis ok: ${redisInfo.latencyMs} ms round trip, server ${redisInfo.version}`);
  const maxMemory = redisInfo.maxMemory === '0B' ? 'no maxmemory' : `maxmemory ${redisInfo.maxMemory}`;
  log(
    `redis memory: ${redisInfo.usedMemory} used (peak ${redisInfo.peakMemory}), ${maxMemory}, policy ${redisInfo.maxMemoryPolicy}`,
  );
  log(
    `redis clients: ${redisInfo.connectedClients}/${redisInfo.maxClients} connected, ${redisInfo.blockedClients} blocked`,
  );

  const db = new Database({ url, name: 'db-health', max: 4, healthIntervalMs: 0 });
  try {
    await Promise.all(Array.from({ length: 4 }, () => db.query('SELECT pg_sleep(0.005)')));
    const health = await db.checkNow();
    const pool = db.poolStats();
    log(
      `pool ok: ping ${health.primary.latencyMs} ms, total ${pool.total}, idle ${pool.idle}, waiting ${pool.waiting}, max ${pool.max}`,
    );
  } finally {
    await db.close();
  }

  const slow = await slowestStatements(url);
  if (slow.source === 'unavailable') log(`slowest statements: unavailable (${slow.hint})`);
  else {
    log(`slowest statements (pg_stat_statements, by mean time): ${slow.statements.length ? '' : 'none recorded yet'}`);
    for (const s of slow.statements)
      log(`  ${s.meanMs} ms mean, ${s.calls} calls, ${s.totalMs} ms total: ${truncate(s.query)}`);
  }
  const running = await runningSlowStatements(url);
  log(`statements running longer than 1 s now: ${running.length ? '' : 'none'}`);
  for (const r of running) log(`  pid ${r.pid}, ${r.runningMs} ms, ${r.state}: ${truncate(r.query)}`);

  let healthy = true;
  for (const status of await migrationStatus(url)) {
    const problems = [
      status.pending.length && `${status.pending.length} pending`,
      status.failed.length && `${status.failed.length} failed`,
    ].filter(Boolean);
    if (problems.length) healthy = false;
    log(
      `migrations ${status.service} (schema ${status.schema}): ${status.applied} applied${problems.length ? `, ${problems.join(', ')} — run pnpm db:migrate` : ', up to date'}`,
    );
  }
  return healthy;
}

/** A statement's text shortened for one log line. */
function truncate(query: string, length = 160): string {
  return query.length > length ? `${query.slice(0, length - 1)}…` : query;
}

async function reset(): Promise<void> {
  if (process.env.NODE_ENV === 'production')
    throw new OperatorError('db:reset refuses to run with NODE_ENV=production.');
  const url = setting('DATABASE_URL');
  await dropDatabase(url);
  log(`dropped database ${databaseName(url)}`);
  await setup();
}

/**
 * Prisma Studio reads one schema file, and each service's models live in its own schema: without a service named,
 * a terminal is asked which one; anything else gets the usage line.
 */
async function chooseService(name: string | undefined): Promise<(typeof SERVICES)[number]> {
  const usage = `usage: pnpm db:studio <${SERVICES.map((s) => s.name).join('|')}>`;
  if (name) {
    const service = SERVICES.find((s) => s.name === name);
    if (!service) throw new OperatorError(`unknown service ${name}; ${usage}`);
    return service;
  }
  if (!process.stdin.isTTY) throw new OperatorError(usage);
  const prompt = createInterface({ input: process.stdin, output: process.stdout });
  try {
    SERVICES.forEach((s, i) => console.log(`  ${i + 1}. ${s.name} (schema ${s.schema})`));
    const answer = (await prompt.question('Open Prisma Studio on which service? ')).trim();
    const service = SERVICES[Number(answer) - 1] ?? SERVICES.find((s) => s.name === answer);
    if (!service) throw new OperatorError(`no service ${answer}; ${usage}`);
    return service;
  } finally {
    prompt.close();
  }
}

async function studio(name: string | undefined): Promise<void> {
  const service = await chooseService(name?.startsWith('-') ? undefined : name);
  return new Promise((resolve) => {
    const args = process.argv.slice(3).filter((arg) => arg !== '--' && arg !== service.name);
    const child = spawn(path.join(ROOT, 'node_modules/.bin/prisma'), ['studio', ...args], {
      cwd: serviceDir(service.name),
      stdio: 'inherit',
      env: { ...process.env, DATABASE_URL: setting('DATABASE_URL'), NODE_OPTIONS: '--conditions=@orrange/source' },
    });
    child.on('close', () => resolve());
  });
}

async function devDatabase(): Promise<void> {
  await pingRedis(setting('REDIS_URL'));
  await setup();
  await health();
  await serveStack({ mode: 'source', watch: true });
}

async function main(): Promise<void> {
  loadDotEnv();
  const [command, argument] = process.argv.slice(2);
  switch (command) {
    case 'setup':
      return setup();
    case 'migrate':
      await pingPostgres(setting('DATABASE_URL'));
      return migrateAll(setting('DATABASE_URL'), log);
    case 'seed':
      await seed();
      return seedDevData();
    case 'health':
      if (!(await health())) process.exitCode = 1;
      return;
    case 'studio':
      return studio(argument);
    case 'reset':
      return reset();
    case 'dev':
      return devDatabase();
    default:
      throw new OperatorError('usage: tsx scripts/db.ts <setup|migrate|seed|health|studio|reset|dev>');
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(`[db] ${error instanceof OperatorError ? error.message : (error as Error).stack}`);
    process.exit(1);
  });
}
