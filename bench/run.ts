/**
 * `pnpm bench`: builds and starts the whole stack on a fresh database, then measures the targets of
 * DESIGN.md with fixed-rate (open-loop) load through the gateway. Writes bench/results/<time>.json and
 * .md, and prints the table. Tunables (env): BENCH_ORDER_RATE (1000), BENCH_DURATION_S (20),
 * BENCH_READ_RATE (200), BENCH_CONNECTIONS (10000), BENCH_CEILING_RATES ("50,100,150,200,300,500,1000"),
 * BENCH_STATS_TRADES (100000), BENCH_SKIP ("ceiling,connections,…"), BENCH_NODE_ARGS ("--cpu-prof …"),
 * BENCH_LOG=<file> (every line the services write), BENCH_PG_STATEMENTS=1 (the statements that cost Postgres most during the main load; needs pg_stat_statements
 * in the server's shared_preload_libraries).
 */
import net from 'node:net';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { databaseName, withDatabase } from '@orrange/db';
import { applyMigrations, deleteKeys } from '@orrange/testing';
import { dropDatabase, ensureDatabase, run } from '../scripts/lib/infra';
import { stackSpecs, startProcesses, stopAll, type Running, type StackPorts } from '../scripts/lib/stack';
import { loadDotEnv, ROOT, SERVICES, serviceDir, setting } from '../scripts/lib/services';
import { loadAgent, rssMb, runOpenLoop, summarize, usage, usageOf, type LoadResult, type Usage } from './lib/open-loop';
import { seedStatsHistory, matchToTradeLatencies } from './lib/history';

const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const ORDER_RATE = num('BENCH_ORDER_RATE', 1000);
const DURATION_MS = num('BENCH_DURATION_S', 20) * 1000;
const READ_RATE = num('BENCH_READ_RATE', 200);
const CONNECTIONS = num('BENCH_CONNECTIONS', 10_000);
const STATS_TRADES = num('BENCH_STATS_TRADES', 100_000);
const CEILING_RATES = (process.env.BENCH_CEILING_RATES ?? '50,100,150,200,300,500,1000').split(',').map(Number);
const PG_STATEMENTS = process.env.BENCH_PG_STATEMENTS === '1';
const SKIP = new Set((process.env.BENCH_SKIP ?? '').split(',').filter(Boolean));
const USERS = 20;
const PASSWORD = 'bench-password-123';

const log = (line: string) => console.log(`[bench] ${line}`);

interface User {
  id: string;
  email: string;
  token: string;
}

const agent = loadAgent();

async function call(base: string, method: string, urlPath: string, body?: unknown, token?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${urlPath}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function register(base: string, tag: string): Promise<User> {
  const email = `${tag}@bench.test`;
  const res = await call(base, 'POST', '/api/v1/auth/register', { email, username: tag, password: PASSWORD });
  if (res.status !== 201) throw new Error(`register ${tag}: ${res.status} ${JSON.stringify(res.body)}`);
  return { id: res.body.user.id, email, token: res.body.accessToken };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Samples the RSS of every process and the database's connection count while `work` runs, and measures the
 * CPU seconds each process spent meanwhile (what a request costs, far steadier than latency on a busy machine).
 */
async function sampled<T>(processes: Running[], databaseUrl: string, work: () => Promise<T>) {
  const rss: Record<string, number> = {};
  let connectionsMax = 0;
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const dbName = databaseName(databaseUrl);
  const timer = setInterval(async () => {
    for (const p of processes) if (p.child.pid) rss[p.spec.label] = Math.max(rss[p.spec.label] ?? 0, await rssMb(p.child.pid));
    const { rows } = await client.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [dbName]).catch(() => ({ rows: [{ n: 0 }] }));
    connectionsMax = Math.max(connectionsMax, rows[0].n);
  }, 500);
  try {
    const { result, cpu, writes } = await measureCpu(processes, work);
    return { result, rss, connectionsMax, cpu, writes };
  } finally {
    clearInterval(timer);
    await client.end();
  }
}

/**
 * Waits until the stack has worked off what earlier steps left (queued events, outbox rows, vacuum): less than
 * a fifth of a core busy over a second (idle, the stack uses about a tenth: probes, relay polls), or two minutes
 * at most. Each step then measures only its own load.
 */
async function untilQuiet(processes: Running[]): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const { cpu } = await measureCpu(processes, () => new Promise((resolve) => setTimeout(resolve, 1000)));
    const busy = Object.entries(cpu).filter(([label]) => label !== 'bench client').reduce((sum, [, seconds]) => sum + seconds, 0);
    if (busy < 0.2) return;
  }
  log('the stack did not settle within two minutes; measuring anyway');
}

/**
 * CPU seconds and write syscalls each process, Postgres and Redis (all their processes) and the bench client
 * itself spent while `work` ran.
 */
async function measureCpu<T>(processes: Running[], work: () => Promise<T>): Promise<{ result: T; cpu: Record<string, number>; writes: Record<string, number> }> {
  const read = async () => {
    const entries = await Promise.all(processes.map(async (p) => [p.spec.label, p.child.pid ? await usage(p.child.pid) : { cpuS: 0, writes: 0 }] as const));
    const servers = [['postgres', await usageOf('postgres')], ['redis', await usageOf('redis-server')]] as const;
    return Object.fromEntries([...entries, ...servers, ['bench client', await usage(process.pid)]]) as Record<string, Usage>;
  };
  const before = await read();
  const result = await work();
  const after = await read();
  const labels = Object.keys(after);
  return {
    result,
    cpu: Object.fromEntries(labels.map((label) => [label, Math.round((after[label]!.cpuS - before[label]!.cpuS) * 100) / 100])),
    writes: Object.fromEntries(labels.map((label) => [label, after[label]!.writes - before[label]!.writes])),
  };
}

/** pg_stat_statements of the bench database: reset before the main load, read (top 60 by time) after it. */
async function pgStatements(databaseUrl: string, action: 'reset' | 'read'): Promise<unknown> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    if (action === 'reset') {
      await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
      await client.query('SELECT pg_stat_statements_reset()');
      return undefined;
    }
    const { rows } = await client.query(
      `SELECT calls, round(total_exec_time::numeric, 1) AS total_ms, round(mean_exec_time::numeric, 3) AS mean_ms, round(total_plan_time::numeric, 1) AS plan_ms, rows,
              left(regexp_replace(query, '\\s+', ' ', 'g'), 160) AS query
       FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY total_exec_time + total_plan_time DESC LIMIT 60`,
    );
    // Planning time is 0 unless pg_stat_statements.track_planning is on.
    for (const r of rows) log(`pg ${r.total_ms} ms (+${r.plan_ms} ms planning) in ${r.calls} calls (${r.mean_ms} ms each): ${r.query}`);
    return rows;
  } finally {
    await client.end();
  }
}

async function orderLoad(base: string, sellers: User[], buyers: User[], ratePerSecond: number, durationMs: number): Promise<LoadResult> {
  return runOpenLoop({
    ratePerSecond,
    durationMs,
    agent,
    request: (i) => {
      const sell = i % 2 === 0;
      const user = sell ? sellers[(i / 2) % sellers.length]! : buyers[((i - 1) / 2) % buyers.length]!;
      return {
        label: sell ? 'SELL' : 'BUY',
        url: `${base}/api/v1/orders`,
        method: 'POST',
        headers: { authorization: `Bearer ${user.token}` },
        body: JSON.stringify({ side: sell ? 'SELL' : 'BUY', asset: 'BTC', fiatCurrency: 'USD', price: '60000.00', amount: '0.00100000', paymentMethods: ['SEPA'] }),
      };
    },
  });
}

function bookReads(base: string, ratePerSecond: number, durationMs: number): Promise<LoadResult> {
  return runOpenLoop({ ratePerSecond, durationMs, agent, request: () => ({ url: `${base}/api/v1/orderbook?asset=BTC&fiatCurrency=USD` }) });
}

/** Opens `count` keep-alive connections to the gateway, each with one answered request, and holds them. */
async function holdConnections(port: number, count: number): Promise<{ open: () => number; close: () => void; failed: number }> {
  const sockets: net.Socket[] = [];
  let failed = 0;
  const batch = 500;
  for (let i = 0; i < count; i += batch) {
    await Promise.all(
      Array.from({ length: Math.min(batch, count - i) }, () =>
        new Promise<void>((resolve) => {
          const socket = net.connect(port, '127.0.0.1');
          socket.setTimeout(10_000);
          socket.once('error', () => {
            failed++;
            resolve();
          });
          socket.once('connect', () => {
            socket.write('GET /docs/openapi.json HTTP/1.1\r\nHost: bench\r\nConnection: keep-alive\r\n\r\n');
          });
          socket.once('data', () => {
            socket.setTimeout(0);
            sockets.push(socket);
            resolve();
          });
          socket.once('timeout', () => {
            failed++;
            socket.destroy();
            resolve();
          });
        }),
      ),
    );
  }
  return { open: () => sockets.filter((s) => !s.destroyed).length, close: () => sockets.forEach((s) => s.destroy()), failed };
}

async function main(): Promise<void> {
  loadDotEnv();
  const startedAt = new Date();
  const databaseUrl = withDatabase(setting('DATABASE_URL'), `orrange_bench_${Date.now().toString(36)}`);
  const prefix = `orrange-bench-${Date.now().toString(36)}`;
  log('building (turbo)…');
  await run(`${ROOT}/node_modules/.bin/turbo`, ['run', 'build', '--output-logs=errors-only'], { cwd: ROOT, env: { TURBO_TELEMETRY_DISABLED: '1' } });
  try {
    report(await measure(databaseUrl, prefix, startedAt), startedAt);
  } finally {
    // Whatever failed, a bench leaves nothing behind: neither its database nor a key of its Redis prefix.
    await dropDatabase(databaseUrl).catch(() => undefined);
    const redis = new Redis(setting('REDIS_URL'), { lazyConnect: true });
    await redis.connect().then(() => deleteKeys(redis, `${prefix}*`)).catch(() => undefined);
    redis.disconnect();
  }
}

/** Creates and migrates the database, starts the stack, runs every step and returns the results. */
async function measure(databaseUrl: string, prefix: string, startedAt: Date): Promise<Record<string, unknown>> {
  await ensureDatabase(databaseUrl);
  // The migrations' SQL applied directly, as the tests do: the database is thrown away after the run, and
  // Prisma's WebAssembly engine would spend about two minutes starting up four times.
  for (const service of SERVICES) await applyMigrations(databaseUrl, { schema: service.schema, dir: path.join(serviceDir(service.name), 'prisma', 'migrations') });
  log('database created and migrated');
  const { seedAdmin } = (await import(path.join(ROOT, 'services/user/src/seed'))) as typeof import('../services/user/src/seed');
  const adminEmail = 'admin@bench.test';
  await seedAdmin({ databaseUrl, email: adminEmail, password: PASSWORD });

  const ports: StackPorts = { user: await freePort(), 'order-book': await freePort(), 'trade-execution': await freePort(), dispute: await freePort(), gateway: await freePort() };
  const env = {
    // development: the faucet must work for funding sellers; everything else runs as in production.
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrl,
    REDIS_URL: setting('REDIS_URL'),
    REDIS_PREFIX: prefix,
    // The benchmark measures capacity, not the limiter: lift the per-client limits.
    RATE_LIMIT_PER_MINUTE: '10000000',
    AUTH_RATE_LIMIT_PER_MINUTE: '10000000',
  };
  // Profiling the services, e.g. BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'.
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  // Errors are printed; BENCH_LOG=<file> keeps every line the services write (warnings included).
  const logFile = process.env.BENCH_LOG ? createWriteStream(process.env.BENCH_LOG) : undefined;
  const onLine = (label: string, line: string) => {
    logFile?.write(`${label} | ${line}\n`);
    if (/"level":"error"/.test(line)) console.log(`${label} | ${line}`);
  };
  const processes = await startProcesses(stackSpecs(env, ports), { mode: 'dist', nodeArgs, onLine });
  const base = `http://127.0.0.1:${ports.gateway}`;
  const results: Record<string, unknown> = { startedAt: startedAt.toISOString(), machine: { cpus: (await import('node:os')).cpus().length }, config: { ORDER_RATE, DURATION_MS, READ_RATE, CONNECTIONS } };
  try {
    log('stack up; creating users and funding sellers…');
    const sellers = await Promise.all(Array.from({ length: USERS }, (_, i) => register(base, `seller${i}`)));
    const buyers = await Promise.all(Array.from({ length: USERS }, (_, i) => register(base, `buyer${i}`)));
    for (const seller of sellers) {
      const res = await call(base, 'POST', '/api/v1/wallet/deposits', { asset: 'BTC', amount: '1000.00000000' }, seller.token);
      if (res.status !== 201) throw new Error(`deposit: ${res.status} ${JSON.stringify(res.body)}`);
    }
    const admin = (await call(base, 'POST', '/api/v1/auth/login', { email: adminEmail, password: PASSWORD })).body.accessToken as string;

    // Warm-up: JIT, pools, caches. Then wait until its work is done, so the main window measures its own load only
    // (a backlog the warm-up left would add its cost, and its latency, to a slower main rate's numbers).
    await orderLoad(base, sellers, buyers, 200, 3000);
    await untilQuiet(processes);

    let held: Awaited<ReturnType<typeof holdConnections>> | undefined;
    if (!SKIP.has('connections')) {
      log(`opening ${CONNECTIONS} client connections to the gateway…`);
      held = await holdConnections(ports.gateway, CONNECTIONS);
      log(`${held.open()} connections open (${held.failed} failed)`);
    }

    log(`orders at ${ORDER_RATE}/s for ${DURATION_MS / 1000} s with book reads at ${READ_RATE}/s…`);
    const loadWindowStart = new Date();
    if (PG_STATEMENTS) await pgStatements(databaseUrl, 'reset');
    // The held connections are counted when the load's last request is sent: an idle keep-alive connection is
    // closed by the gateway after its keep-alive timeout, as it should be, and an overloaded run drains for longer.
    let heldThroughLoad: number | undefined;
    const countHeld = held && setTimeout(() => (heldThroughLoad = held.open()), DURATION_MS);
    const main = await sampled(processes, databaseUrl, () => Promise.all([orderLoad(base, sellers, buyers, ORDER_RATE, DURATION_MS), bookReads(base, READ_RATE, DURATION_MS)]));
    if (countHeld) clearTimeout(countHeld);
    results.orders = main.result[0];
    results.bookReads = main.result[1];
    results.rssMb = main.rss;
    results.postgresConnectionsMax = main.connectionsMax;
    results.cpuSeconds = main.cpu;
    results.writeSyscalls = main.writes;
    if (PG_STATEMENTS) results.pgStatements = await pgStatements(databaseUrl, 'read');
    if (held) {
      results.connections = { held: CONNECTIONS, stillOpen: heldThroughLoad ?? held.open(), failed: held.failed, gatewayRssMb: main.rss.gateway };
      held.close();
    }

    log('waiting for the backlog to drain, then match → trade latency…');
    // What the orders cost in all: an overloaded stack leaves work (matching, trades) for after the window.
    const drain = await measureCpu(processes, () => untilQuiet(processes));
    results.cpuSecondsWithBacklog = Object.fromEntries(Object.entries(main.cpu).map(([label, s]) => [label, Math.round((s + (drain.cpu[label] ?? 0)) * 100) / 100]));
    results.matchToTrade = summarize(await matchToTradeLatencies(databaseUrl, loadWindowStart));

    log('gateway cost: the same book read direct and through the gateway…');
    await untilQuiet(processes);
    const direct = await bookReads(`http://127.0.0.1:${ports['order-book']}`, 500, 10_000);
    const viaGateway = await measureCpu(processes, () => bookReads(base, 500, 10_000));
    results.gatewayCost = {
      direct: direct.latencyMs,
      viaGateway: viaGateway.result.latencyMs,
      addedP50Ms: Math.round((viaGateway.result.latencyMs.p50 - direct.latencyMs.p50) * 100) / 100,
      addedP99Ms: Math.round((viaGateway.result.latencyMs.p99 - direct.latencyMs.p99) * 100) / 100,
      gatewayCpuMsPerRequest: Math.round((viaGateway.cpu.gateway! * 1000 * 100) / viaGateway.result.sent) / 100,
    };

    log('logins…');
    await untilQuiet(processes);
    results.login = await runOpenLoop({
      ratePerSecond: 40,
      durationMs: 10_000,
      agent,
      request: (i) => ({ url: `${base}/api/v1/auth/login`, method: 'POST', body: JSON.stringify({ email: sellers[i % USERS]!.email, password: PASSWORD }) }),
    });

    if (!SKIP.has('ceiling')) {
      const steps: Array<{ rate: number; p99: number; errors: number; byLabel?: LoadResult['byLabel'] }> = [];
      for (const rate of CEILING_RATES) {
        await untilQuiet(processes);
        log(`ceiling step: ${rate} orders/s…`);
        const r = await orderLoad(base, sellers, buyers, rate, 10_000);
        steps.push({ rate, p99: r.latencyMs.p99, errors: r.errors, byLabel: r.byLabel });
        if (r.latencyMs.p99 > 500) break;
      }
      results.ceiling = { steps, highestRateWithP99Under100Ms: Math.max(0, ...steps.filter((s) => s.p99 <= 100 && s.errors === 0).map((s) => s.rate)) };
    }

    if (!SKIP.has('stats')) {
      log(`seeding ${STATS_TRADES} historical trades for the statistics endpoints…`);
      await seedStatsHistory(databaseUrl, STATS_TRADES);
      results.statsMarkets = await runOpenLoop({ ratePerSecond: 50, durationMs: 10_000, agent, request: () => ({ url: `${base}/api/v1/stats/markets` }) });
      results.adminStats = await runOpenLoop({ ratePerSecond: 20, durationMs: 10_000, agent, request: () => ({ url: `${base}/api/v1/admin/stats`, headers: { authorization: `Bearer ${admin}` } }) });
    }

    const verify = await call(base, 'GET', '/api/v1/admin/ledger/verify', undefined, admin);
    results.ledgerVerify = verify.body;
  } finally {
    await stopAll(processes);
  }
  return results;
}

/** What each process spent per order answered during the main load (book reads included), e.g. CPU milliseconds. */
function perOrder(results: Record<string, any>, totals: Record<string, number> | undefined, scale: number): string {
  const orders = results.orders?.ok as number | undefined;
  if (!orders || !totals) return 'n/a';
  return Object.entries(totals).map(([label, total]) => `${label} ${Math.round((total * scale * 100) / orders) / 100}`).join(', ');
}

function report(results: Record<string, any>, startedAt: Date): void {
  const row = (what: string, value: string, target: string) => `| ${what} | ${value} | ${target} |`;
  const lat = (r?: LoadResult) => (r ? `p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, ${r.achievedRate}/s, ${r.errors} errors of ${r.sent}${byLabel(r)}` : 'skipped');
  const byLabel = (r: LoadResult) => (r.byLabel ? ` (${Object.entries(r.byLabel).map(([label, l]) => `${label} p50 ${l.p50} / p99 ${l.p99} ms`).join(', ')})` : '');
  const lines = [
    `# Benchmark ${startedAt.toISOString()} (${results.machine.cpus} cores)`,
    '',
    '| what | measured | target |',
    '| --- | --- | --- |',
    row(`orders placed at ${ORDER_RATE}/s (crossing BUY+SELL)`, lat(results.orders), '≥ 1,000/s, p99 ≤ 100 ms, 0 errors'),
    row('order book reads under that load', lat(results.bookReads), 'p99 ≤ 25 ms'),
    row('match → trade with escrow locked', results.matchToTrade ? `p50 ${results.matchToTrade.p50} ms, p99 ${results.matchToTrade.p99} ms` : 'n/a', 'p99 ≤ 50 ms'),
    row('gateway cost (book read, 500/s)', results.gatewayCost ? `+${results.gatewayCost.addedP50Ms} ms p50, +${results.gatewayCost.addedP99Ms} ms p99, ${results.gatewayCost.gatewayCpuMsPerRequest} ms of gateway CPU per request` : 'n/a', 'token check p99 ≤ 2 ms'),
    row('login (40/s)', lat(results.login), 'p99 ≤ 250 ms'),
    row('CPU ms per order under load, by process', perOrder(results, results.cpuSeconds, 1000), '2 cores in all: < 2 ms per order for 1,000/s'),
    row('… with the backlog the load left, until the stack is quiet', perOrder(results, results.cpuSecondsWithBacklog, 1000), 'the steady-state cost of an order'),
    row('write syscalls per order under load, by process', perOrder(results, results.writeSyscalls, 1), 'each a hop to another process: fewer is faster'),
    row('RSS per process under load (MB)', Object.entries(results.rssMb ?? {}).map(([k, v]) => `${k} ${v}`).join(', '), '≤ 256 MB each'),
    row('ceiling (p99 ≤ 100 ms, 0 errors)', results.ceiling ? `${results.ceiling.highestRateWithP99Under100Ms}/s (${results.ceiling.steps.map((s: any) => `${s.rate}/s→p99 ${s.p99} ms${s.errors ? `, ${s.errors} err` : ''}`).join('; ')})` : 'skipped', '—'),
    row('client connections held at the gateway', results.connections ? `${results.connections.stillOpen}/${results.connections.held} open, gateway RSS ${results.connections.gatewayRssMb} MB` : 'skipped', '10,000, no errors'),
    row('GET /stats/markets with history', lat(results.statsMarkets), 'p99 ≤ 200 ms'),
    row('GET /admin/stats with history', lat(results.adminStats), 'p99 ≤ 200 ms'),
    row('Postgres connections held by the stack (max)', String(results.postgresConnectionsMax), 'well under max_connections'),
    row('ledger verifies after the run', String(results.ledgerVerify?.ok), 'true'),
  ];
  const markdown = lines.join('\n') + '\n';
  const dir = path.join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  writeFileSync(path.join(dir, `${stamp}.json`), JSON.stringify(results, null, 2));
  writeFileSync(path.join(dir, `${stamp}.md`), markdown);
  writeFileSync(path.join(dir, 'latest.md'), markdown);
  console.log(`\n${markdown}`);
}

main().catch((error: unknown) => {
  console.error(`[bench] ${(error as Error).stack}`);
  process.exit(1);
});
