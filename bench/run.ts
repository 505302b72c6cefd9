/**
 * `pnpm bench`: measures the targets of DESIGN.md and of the performance issue with fixed-rate (open-loop)
 * load through the gateway, on a fresh database, and judges throughput against the bare gateway measured in
 * the same run. Phases: the bare gateway's ceiling; a ladder of order rates over 8 markets (stopped after the
 * first step whose p99 is over a second); one market alone; twice the saturation rate; then the extras
 * (10,000 held connections, the gateway's own cost, logins, statistics over a long history, the ledger check).
 * Writes bench/results/<time>.json and .md (and latest.md) and prints the table. Tunables: see README.md,
 * "Benchmarks".
 */
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { redactUrl, redisTlsOptions } from '@orrange/config';
import { databaseName, withDatabase } from '@orrange/db';
import { applyMigrations, deleteKeys, freePort } from '@orrange/testing';
import { dropDatabase, ensureDatabase, ensureRoles, run } from '@orrange/stack/infra';
import {
  allocatePorts,
  stackSpecs,
  startProcesses,
  stopAll,
  type Running,
  type StackPorts,
} from '@orrange/stack/stack';
import { loadDotEnv, ROOT, SERVICES, serviceDir, setting } from '@orrange/stack/services';
import {
  generatorPriorityNote,
  loadAgent,
  runOpenLoop,
  summarize,
  type LoadResult,
  type RequestSpec,
} from './lib/open-loop';
import { seedStatsHistory, matchToTradeLatencies } from './lib/history';
import { measureBareGateway } from './lib/bare-gateway';
import { addUp, StackMeter, stackTotal } from './lib/meter';
import { inboxSchemas, perOrder, readCounters, type CounterSources } from './lib/counters';
import { calibrate, readEnvironment } from './lib/environment';
import { startPrivateRedis } from './lib/private-redis';
import {
  renderReport,
  LADDER_STOP_P99_MS,
  SINGLE_MARKET_RATE_PER_S,
  TARGET_RATE_PER_S,
  type Results,
  type Step,
} from './lib/report';

const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const list = (name: string, fallback: string) => (process.env[name] ?? fallback).split(',').filter(Boolean);
const STEP_MS = num('BENCH_STEP_S', 60) * 1000;
const RATES = list('BENCH_RATES', '100,200,300,500,700,1000').map(Number);
const READ_RATE = num('BENCH_READ_RATE', 100);
const SINGLE_RATE = num('BENCH_SINGLE_RATE', SINGLE_MARKET_RATE_PER_S);
const FIATS = list('BENCH_FIATS', 'USD,EUR');
/**
 * `adjacent` (the default, every run before 2026-12-05): a pair's SELL and BUY are consecutive requests, 1/rate apart,
 * in one market. `apart`: the markets take turns, so a market's orders come one per (markets / rate), SELL then BUY
 * (26.7 ms apart at 300/s over 8 markets): no two orders of a market arrive close together, the case where
 * order-book's batch window (ORDER_BATCH_WINDOW_MS) finds no company.
 */
const PAIRS = (process.env.BENCH_PAIRS ?? 'adjacent') as 'adjacent' | 'apart';
if (PAIRS !== 'adjacent' && PAIRS !== 'apart') throw new Error(`BENCH_PAIRS: adjacent or apart, not ${PAIRS}`);
const BARE_RATES = list('BENCH_BARE_RATES', '250,500,1000,1500,2000,2500,3000,4000').map(Number);
/** Short by default: the bare gateway is steady within seconds, and its ladder runs up to seven steps. */
const BARE_STEP_MS = num('BENCH_BARE_STEP_S', Math.min(10, STEP_MS / 2000)) * 1000;
/** The extras' windows (logins, statistics, the gateway's cost): long enough for a p99, short in dev runs. */
const EXTRA_MS = Math.min(10_000, STEP_MS / 2);
const CONNECTIONS = num('BENCH_CONNECTIONS', 10_000);
const STATS_TRADES = num('BENCH_STATS_TRADES', 100_000);
const PG_STATEMENTS = process.env.BENCH_PG_STATEMENTS === '1';
const SKIP = new Set(list('BENCH_SKIP', ''));
const USERS = 20;
const PASSWORD = 'bench-password-123';
/** Orders the held connections' phase places per second: a moderate load, so that memory is what it shows. */
const CONNECTIONS_ORDER_RATE_PER_S = 100;
/** A stack whose processes used less than this much CPU over a second is quiet (idle, it uses about 0.1 s). */
const QUIET_CPU_S_MAX = 0.2;
/** Longest wait for a backlog to drain before measuring anyway. */
const QUIET_WAIT_MAX_MS = 120_000;
/** Postgres backends publish their statistics at most once a second: wait that out before reading them. */
const PG_STATS_FLUSH_MS = 1500;
const WARMUP_RATE_PER_S = 200;
/** Error lines of the services printed; the rest are counted. */
const ERROR_LINES_PRINTED_MAX = 20;
const WARMUP_MS = 3000;

const runStartedAt = performance.now();
const log = (line: string) =>
  console.log(`[bench +${Math.round((performance.now() - runStartedAt) / 1000)} s] ${line}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The crypto assets traded, each with an order's price and amount and what a seller is funded with. */
const ASSET_ORDERS = {
  BTC: { price: '60000.00', amount: '0.00100000', deposit: '1000.00000000' },
  ETH: { price: '3000.00', amount: '0.01000000', deposit: '10000.00000000' },
  USDT: { price: '1.00', amount: '10.000000', deposit: '100000000.000000' },
  USDC: { price: '1.00', amount: '10.000000', deposit: '100000000.000000' },
} as const;
type Asset = keyof typeof ASSET_ORDERS;

interface Market {
  asset: Asset;
  fiat: string;
}

const MARKETS: Market[] = (Object.keys(ASSET_ORDERS) as Asset[]).flatMap((asset) =>
  FIATS.map((fiat) => ({ asset, fiat })),
);
const SINGLE_MARKET: Market[] = [{ asset: 'BTC', fiat: 'USD' }];

interface User {
  id: string;
  email: string;
  token: string;
}

/** Orders and book reads have connection pools of their own, so that a read never waits for an order's socket. */
const orderAgent = loadAgent();
const readAgent = loadAgent(64);

async function call(
  base: string,
  method: string,
  urlPath: string,
  body?: unknown,
  token?: string,
): Promise<{ status: number; body: any }> {
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

/** A new access token for a bench user. */
async function signIn(base: string, email: string): Promise<string> {
  const res = await call(base, 'POST', '/api/v1/auth/login', { email, password: PASSWORD });
  if (res.status !== 200) throw new Error(`login ${email}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.accessToken as string;
}

/**
 * Crossing orders: pair k is a SELL then a BUY at the same price in market k mod the markets, by different
 * users, so every pair matches whichever of the two rests first (a SELL waiting for its hold included). Each
 * order carries an Idempotency-Key of its own, as API.md asks of clients. The pair's two orders are consecutive
 * requests, or as far apart as the markets allow (BENCH_PAIRS).
 */
function orderRequests(
  base: string,
  markets: Market[],
  sellers: Pick<User, 'token'>[],
  buyers: Pick<User, 'token'>[],
): (i: number) => RequestSpec {
  const m = markets.length;
  return (i) => {
    // apart: in each round of 2m requests, market j gets its SELL at j and its BUY at m + j.
    const pair = PAIRS === 'adjacent' ? Math.floor(i / 2) : Math.floor(i / (2 * m)) * m + (i % m);
    const sell = PAIRS === 'adjacent' ? i % 2 === 0 : i % (2 * m) < m;
    const market = markets[pair % markets.length]!;
    const user = sell ? sellers[pair % sellers.length]! : buyers[pair % buyers.length]!;
    const { price, amount } = ASSET_ORDERS[market.asset];
    return {
      label: sell ? 'SELL' : 'BUY',
      url: `${base}/api/v1/orders`,
      method: 'POST',
      headers: { authorization: `Bearer ${user.token}`, 'idempotency-key': randomUUID() },
      body: JSON.stringify({
        side: sell ? 'SELL' : 'BUY',
        asset: market.asset,
        fiatCurrency: market.fiat,
        price,
        amount,
        paymentMethods: ['SEPA'],
      }),
    };
  };
}

/** Book reads spread over `markets`; with `tokens`, each carries one of them (a signed-in client's read). */
function bookReads(
  base: string,
  markets: Market[],
  ratePerSecond: number,
  durationMs: number,
  tokens: string[] = [],
): Promise<LoadResult> {
  return runOpenLoop({
    ratePerSecond,
    durationMs,
    agent: readAgent,
    request: (i) => {
      const market = markets[i % markets.length]!;
      const url = `${base}/api/v1/orderbook?asset=${market.asset}&fiatCurrency=${market.fiat}`;
      return tokens.length > 0 ? { url, headers: { authorization: `Bearer ${tokens[i % tokens.length]}` } } : { url };
    },
  });
}

/** Opens `count` keep-alive connections to the gateway, each with one answered request, and holds them. */
async function holdConnections(
  port: number,
  count: number,
): Promise<{ open: () => number; close: () => void; failed: number }> {
  const sockets: net.Socket[] = [];
  let failed = 0;
  const batch = 500;
  for (let i = 0; i < count; i += batch) {
    await Promise.all(
      Array.from(
        { length: Math.min(batch, count - i) },
        () =>
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
  return {
    open: () => sockets.filter((s) => !s.destroyed).length,
    close: () => sockets.forEach((s) => s.destroy()),
    failed,
  };
}

/** pg_stat_statements of the bench database: reset before the target step, the 60 costliest read after it. */
async function topStatements(bench: pg.Client, action: 'reset' | 'read'): Promise<unknown> {
  if (action === 'reset') {
    await bench.query('SELECT pg_stat_statements_reset()');
    return undefined;
  }
  const { rows } = await bench.query(
    `SELECT calls, round(total_exec_time::numeric, 1) AS total_ms, round(mean_exec_time::numeric, 3) AS mean_ms, round(total_plan_time::numeric, 1) AS plan_ms, rows,
            left(regexp_replace(query, '\\s+', ' ', 'g'), 160) AS query
     FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY total_exec_time + total_plan_time DESC LIMIT 60`,
  );
  // Planning time is 0 unless pg_stat_statements.track_planning is on.
  for (const r of rows)
    log(`pg ${r.total_ms} ms (+${r.plan_ms} ms planning) in ${r.calls} calls (${r.mean_ms} ms each): ${r.query}`);
  return rows;
}

/** What every phase needs: the stack, its meter and counters, the users. */
interface Context {
  base: string;
  databaseUrl: string;
  bench: pg.Client;
  meter: StackMeter;
  counters: CounterSources;
  schemas: string[];
  sellers: User[];
  buyers: User[];
}

/**
 * Waits until the stack has worked off what came before (queued events, outbox rows): less than
 * QUIET_CPU_S_MAX of CPU over a second, or QUIET_WAIT_MAX_MS at most. Returns how long that took.
 */
async function untilQuiet(meter: StackMeter): Promise<number> {
  const startedAt = performance.now();
  while (performance.now() - startedAt < QUIET_WAIT_MAX_MS) {
    const { cpuS } = await meter.measure(() => sleep(1000));
    if (stackTotal(cpuS) < QUIET_CPU_S_MAX) return Math.round(performance.now() - startedAt) / 1000;
  }
  log(`the stack did not settle within ${QUIET_WAIT_MAX_MS / 1000} s; measuring anyway`);
  return QUIET_WAIT_MAX_MS / 1000;
}

/** autovacuum is off on these machines: each phase starts without the dead rows of the one before. */
async function vacuumAnalyze(bench: pg.Client): Promise<void> {
  await bench.query('VACUUM ANALYZE');
}

/**
 * One step: orders at `rate` over `markets` and book reads beside for `durationMs`, then the backlog until the
 * stack is quiet; costs are counted over both and divided by the accepted orders.
 */
async function orderStep(
  ctx: Context,
  name: string,
  rate: number,
  markets: Market[],
  durationMs: number,
  statements = false,
): Promise<Step> {
  await vacuumAnalyze(ctx.bench);
  await untilQuiet(ctx.meter);
  log(
    `${name}: ${rate} orders/s over ${markets.length} market(s) for ${durationMs / 1000} s, book reads at ${READ_RATE}/s…`,
  );
  if (statements) await topStatements(ctx.bench, 'reset');
  const before = await readCounters(ctx.counters, ctx.schemas);
  const since = new Date();
  const window = await ctx.meter.measure(() =>
    Promise.all([
      runOpenLoop({
        ratePerSecond: rate,
        durationMs,
        agent: orderAgent,
        request: orderRequests(ctx.base, markets, ctx.sellers, ctx.buyers),
      }),
      bookReads(ctx.base, markets, READ_RATE, durationMs),
    ]),
  );
  const [orders, reads] = window.result;
  let backlogS = 0;
  const drain = await ctx.meter.measure(async () => (backlogS = await untilQuiet(ctx.meter)));
  await sleep(PG_STATS_FLUSH_MS);
  const after = await readCounters(ctx.counters, ctx.schemas);
  const matches = await matchToTradeLatencies(ctx.databaseUrl, since);
  const top = statements ? await topStatements(ctx.bench, 'read') : undefined;
  const accepted = Math.max(1, orders.ok);
  const perAccepted = (byProcess: Record<string, number>, scale: number) =>
    Object.fromEntries(
      Object.entries(byProcess).map(([label, value]) => [label, Math.round((value * scale * 100) / accepted) / 100]),
    );
  const withBacklog = addUp(window.cpuS, drain.cpuS);
  const step: Step = {
    name,
    rate,
    markets: markets.length,
    durationS: durationMs / 1000,
    orders,
    bookReads: reads,
    matchToEscrow: {
      matches: matches.matches,
      withTrade: matches.latenciesMs.length,
      latencyMs: summarize(matches.latenciesMs),
    },
    cpuMsPerOrder: {
      window: perAccepted(window.cpuS, 1000),
      withBacklog: perAccepted(withBacklog, 1000),
      stackWithBacklog: Math.round((stackTotal(withBacklog) * 1000 * 100) / accepted) / 100,
    },
    writesPerOrder: perAccepted(window.writes, 1),
    backlogS,
    perOrder: perOrder(before, after, orders.ok, orders.scheduled),
    rssMbMax: window.rssMbMax,
    pgConnectionsMax: window.pgConnectionsMax,
    topStatements: top,
  };
  const late = orders.valid ? '' : `, INVALID (${orders.invalidReason})`;
  log(
    `${name}: goodput ${orders.goodputPerS}/s, p99 ${orders.latencyMs.p99} ms, ${orders.errors} errors ${JSON.stringify(orders.byStatus)}, ` +
      `book p99 ${reads.latencyMs.p99} ms, match→escrow p99 ${step.matchToEscrow.latencyMs.p99} ms, ${step.cpuMsPerOrder.stackWithBacklog} ms CPU/order, backlog ${backlogS} s${late}`,
  );
  return step;
}

async function main(): Promise<void> {
  loadDotEnv();
  const startedAt = new Date();
  const databaseUrl = withDatabase(setting('DATABASE_URL'), `orrange_bench_${Date.now().toString(36)}`);
  const prefix = `orrange-bench-${Date.now().toString(36)}`;
  log('building (turbo)…');
  await run(`${ROOT}/node_modules/.bin/turbo`, ['run', 'build', '--output-logs=errors-only'], {
    cwd: ROOT,
    env: { TURBO_TELEMETRY_DISABLED: '1' },
  });
  const privateRedis = await startPrivateRedis(await freePort());
  const redisUrl = privateRedis?.url ?? setting('REDIS_URL');
  if (!privateRedis)
    log(
      `redis-server could not be started: using ${redactUrl(redisUrl)} (its CPU and commands include other clients')`,
    );
  try {
    const results = await measure(databaseUrl, redisUrl, prefix, startedAt, privateRedis?.pid);
    report(results, startedAt);
  } finally {
    // Whatever failed, a bench leaves nothing behind: neither its database nor its Redis (or its keys there).
    await dropDatabase(databaseUrl).catch(() => undefined);
    if (privateRedis) await privateRedis.stop();
    else {
      const redis = new Redis(redisUrl, {
        ...redisTlsOptions(redisUrl, privateRedis ? undefined : process.env.REDIS_TLS_CA_FILE),
        lazyConnect: true,
      });
      await redis
        .connect()
        .then(() => deleteKeys(redis, `${prefix}*`))
        .catch(() => undefined);
      redis.disconnect();
    }
  }
}

/** Creates and migrates the database, measures the bare gateway, starts the stack and runs every phase. */
async function measure(
  databaseUrl: string,
  redisUrl: string,
  prefix: string,
  startedAt: Date,
  redisPid: number | undefined,
): Promise<Results> {
  const admin = new pg.Client({ connectionString: withDatabase(databaseUrl, 'postgres') });
  await admin.connect();
  const redis = new Redis(
    redisUrl,
    redisTlsOptions(redisUrl, redisPid === undefined ? process.env.REDIS_TLS_CA_FILE : undefined),
  );
  const results: Results = {
    startedAt: startedAt.toISOString(),
    environment: await readEnvironment(admin, redis, redisPid !== undefined),
    config: {
      rates: RATES,
      stepS: STEP_MS / 1000,
      readRatePerS: READ_RATE,
      singleRatePerS: SINGLE_RATE,
      markets: MARKETS.map((m) => `${m.asset}/${m.fiat}`),
      pairs: PAIRS,
      bareRates: BARE_RATES,
      bareStepS: BARE_STEP_MS / 1000,
      connections: CONNECTIONS,
      skip: [...SKIP],
    },
    ladder: [],
  };
  log(`environment: ${JSON.stringify(results.environment)}`);
  try {
    if (!SKIP.has('bare')) {
      log('bare gateway (express + http-proxy-middleware in front of an empty handler)…');
      const fake = [{ token: `bench.${'x'.repeat(300)}` }];
      results.bareGateway = await measureBareGateway({
        rates: BARE_RATES,
        stepMs: BARE_STEP_MS,
        agent: orderAgent,
        ports: { proxy: await freePort(), upstream: await freePort() },
        request: (base) => orderRequests(base, MARKETS, fake, fake),
        log,
      });
      log(`bare gateway ceiling: ${results.bareGateway.ceilingPerS}/s (stopped by ${results.bareGateway.stoppedBy})`);
    }
    await ensureDatabase(databaseUrl);
    await ensureRoles(databaseUrl); // the migrations grant to them, and the services connect as them
    // The migrations' SQL applied directly, as the tests do: the database is thrown away after the run, and
    // Prisma's WebAssembly engine would spend about two minutes starting up four times.
    for (const service of SERVICES)
      await applyMigrations(databaseUrl, {
        schema: service.schema,
        dir: path.join(serviceDir(service.name), 'prisma', 'migrations'),
      });
    log('database created and migrated');
    await runStack(databaseUrl, redisUrl, prefix, redisPid, admin, redis, results);
  } finally {
    await admin.end();
    redis.disconnect();
  }
  results.finishedAt = new Date().toISOString();
  results.environment.calibrationMs.end = calibrate();
  results.generatorPriorityNote = generatorPriorityNote();
  return results;
}

async function runStack(
  databaseUrl: string,
  redisUrl: string,
  prefix: string,
  redisPid: number | undefined,
  admin: pg.Client,
  redis: Redis,
  results: Results,
): Promise<void> {
  const { seedAdmin } = (await import(
    path.join(ROOT, 'services/user/src/seed')
  )) as typeof import('../services/user/src/seed');
  const adminEmail = 'admin@bench.test';
  await seedAdmin({ databaseUrl, email: adminEmail, password: PASSWORD });

  const ports: StackPorts = await allocatePorts(freePort);
  const env = {
    // development: the faucet must work for funding sellers; everything else runs as in production.
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix,
    // The private Redis speaks plain TCP on loopback: a CA file meant for the configured Redis does not apply to it.
    ...(redisPid === undefined ? {} : { REDIS_TLS_CA_FILE: '' }),
    // The benchmark measures capacity, not the limiter: lift the per-client limits.
    RATE_LIMIT_PER_MINUTE: '10000000',
    AUTH_RATE_LIMIT_PER_MINUTE: '10000000',
    // Nor the abuse limits: 20 buyers open thousands of trades that nobody pays during the run (their checks still run).
    ORDERS_OPEN_MAX: '1000000',
    TRADES_OPEN_AS_BUYER_MAX: '1000000',
  };
  // Profiling the services, e.g. BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'.
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  // The first errors are printed (an overloaded stack logs one per failed request, and printing them all would
  // take the load generator's time); BENCH_LOG=<file> keeps every line the services write, warnings included.
  const logFile = process.env.BENCH_LOG ? createWriteStream(process.env.BENCH_LOG) : undefined;
  results.serviceErrorLines = 0;
  const onLine = (label: string, line: string) => {
    logFile?.write(`${label} | ${line}\n`);
    if (!/"level":"error"/.test(line)) return;
    results.serviceErrorLines = (results.serviceErrorLines ?? 0) + 1;
    if (results.serviceErrorLines <= ERROR_LINES_PRINTED_MAX) console.log(`${label} | ${line}`);
    if (results.serviceErrorLines === ERROR_LINES_PRINTED_MAX)
      log(`further error lines are counted, not printed (BENCH_LOG=<file> keeps them all)`);
  };
  const processes = await startProcesses(stackSpecs(env, ports), { mode: 'dist', nodeArgs, onLine });
  const bench = new pg.Client({ connectionString: databaseUrl });
  await bench.connect();
  try {
    if (results.environment.pgStatStatements) await bench.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    const base = `http://127.0.0.1:${ports.gateway}`;
    const meter = new StackMeter({
      processes: processes.map((p: Running) => ({ label: p.spec.label, pid: p.child.pid! })),
      redisPid,
      admin,
      databaseName: databaseName(databaseUrl),
    });
    log('stack up; creating users and funding sellers…');
    const sellers = await Promise.all(Array.from({ length: USERS }, (_, i) => register(base, `seller${i}`)));
    const buyers = await Promise.all(Array.from({ length: USERS }, (_, i) => register(base, `buyer${i}`)));
    for (const seller of sellers) {
      for (const [asset, { deposit }] of Object.entries(ASSET_ORDERS)) {
        const res = await call(base, 'POST', '/api/v1/wallet/deposits', { asset, amount: deposit }, seller.token);
        if (res.status !== 201) throw new Error(`deposit ${asset}: ${res.status} ${JSON.stringify(res.body)}`);
      }
    }
    const adminToken = (await call(base, 'POST', '/api/v1/auth/login', { email: adminEmail, password: PASSWORD })).body
      .accessToken as string;
    const ctx: Context = {
      base,
      databaseUrl,
      bench,
      meter,
      counters: {
        admin,
        bench,
        databaseName: databaseName(databaseUrl),
        redis,
        serviceMetricsUrls: SERVICES.map((s) => `http://127.0.0.1:${ports[s.name]}/metrics`),
        statementsAvailable: results.environment.pgStatStatements,
      },
      schemas: await inboxSchemas(bench),
      sellers,
      buyers,
    };

    // Warm-up: JIT, pools, caches, every market's first rows.
    await runOpenLoop({
      ratePerSecond: WARMUP_RATE_PER_S,
      durationMs: WARMUP_MS,
      agent: orderAgent,
      request: orderRequests(base, MARKETS, sellers, buyers),
    });

    for (const rate of RATES) {
      const step = await orderStep(
        ctx,
        `${MARKETS.length} markets at ${rate}/s`,
        rate,
        MARKETS,
        STEP_MS,
        PG_STATEMENTS && rate === TARGET_RATE_PER_S,
      );
      results.ladder.push(step);
      if (step.orders.latencyMs.p99 > LADDER_STOP_P99_MS) break;
    }
    const valid = results.ladder.filter((s) => s.orders.valid);
    if (valid.length) {
      const best = valid.reduce((a, b) => (b.orders.goodputPerS > a.orders.goodputPerS ? b : a));
      results.saturation = { goodputPerS: best.orders.goodputPerS, atRate: best.rate };
    }
    if (!SKIP.has('single'))
      results.singleMarket = await orderStep(
        ctx,
        `one market at ${SINGLE_RATE}/s`,
        SINGLE_RATE,
        SINGLE_MARKET,
        STEP_MS,
      );
    if (!SKIP.has('overload') && results.saturation) {
      const rate = Math.max(1, Math.round(2 * results.saturation.goodputPerS));
      results.overload = await orderStep(
        ctx,
        `overload: ${MARKETS.length} markets at ${rate}/s (2 × saturation)`,
        rate,
        MARKETS,
        STEP_MS,
      );
    }
    await extras(ctx, ports, processes, adminToken, results);
  } finally {
    await bench.end();
    await stopAll(processes);
  }
}

/** The measurements beside the order path: held connections, the gateway's cost, logins, statistics, the ledger. */
async function extras(
  ctx: Context,
  ports: StackPorts,
  processes: Running[],
  adminToken: string,
  results: Results,
): Promise<void> {
  const { base, meter } = ctx;
  if (!SKIP.has('connections')) {
    await vacuumAnalyze(ctx.bench);
    await untilQuiet(meter);
    log(`opening ${CONNECTIONS} client connections to the gateway…`);
    const held = await holdConnections(ports.gateway, CONNECTIONS);
    log(
      `${held.open()} connections open (${held.failed} failed); orders at ${CONNECTIONS_ORDER_RATE_PER_S}/s beside them…`,
    );
    const durationMs = Math.min(20_000, STEP_MS);
    const window = await meter.measure(() =>
      runOpenLoop({
        ratePerSecond: CONNECTIONS_ORDER_RATE_PER_S,
        durationMs,
        agent: orderAgent,
        request: orderRequests(base, MARKETS, ctx.sellers, ctx.buyers),
      }),
    );
    results.connections = {
      held: CONNECTIONS,
      stillOpen: held.open(),
      failed: held.failed,
      gatewayRssMb: window.rssMbMax.gateway ?? 0,
      orders: window.result,
    };
    held.close();
  }

  if (!SKIP.has('gateway-cost')) {
    log('gateway cost: the same book read direct and through the gateway, at once…');
    await untilQuiet(meter);
    // Through the gateway with the buyers' access tokens, so that the token is checked (until 2026-12-05 the reads
    // went without one). Both in the same window (until then one window after the other): whatever else the machine
    // does meanwhile (a checkpoint, a neighbour's burst) reaches both, so the difference is the gateway's. The gateway
    // sees 500/s either way; order-book serves both.
    // Signed in again: the tokens of the registrations may have expired by now (ACCESS_TOKEN_TTL_SECONDS).
    const tokens = await Promise.all(ctx.buyers.map((u) => signIn(base, u.email)));
    const [direct, viaGateway] = await Promise.all([
      bookReads(`http://127.0.0.1:${ports['order-book']}`, MARKETS, 500, EXTRA_MS),
      meter.measure(() => bookReads(base, MARKETS, 500, EXTRA_MS, tokens)),
    ]);
    results.gatewayCost = {
      direct: direct.latencyMs,
      viaGateway: viaGateway.result.latencyMs,
      addedP50Ms: Math.round((viaGateway.result.latencyMs.p50 - direct.latencyMs.p50) * 100) / 100,
      addedP99Ms: Math.round((viaGateway.result.latencyMs.p99 - direct.latencyMs.p99) * 100) / 100,
      gatewayCpuMsPerRequest:
        Math.round(((viaGateway.cpuS.gateway ?? 0) * 1000 * 100) / viaGateway.result.scheduled) / 100,
    };
  }

  if (!SKIP.has('logins')) {
    log('logins…');
    await untilQuiet(meter);
    results.login = await runOpenLoop({
      ratePerSecond: 40,
      durationMs: EXTRA_MS,
      agent: orderAgent,
      request: (i) => ({
        url: `${base}/api/v1/auth/login`,
        method: 'POST',
        body: JSON.stringify({ email: ctx.sellers[i % USERS]!.email, password: PASSWORD }),
      }),
    });
  }

  if (!SKIP.has('stats')) {
    log(`seeding ${STATS_TRADES} historical trades for the statistics endpoints…`);
    await seedStatsHistory(ctx.databaseUrl, STATS_TRADES);
    await untilQuiet(meter);
    results.statsMarkets = await runOpenLoop({
      ratePerSecond: 50,
      durationMs: EXTRA_MS,
      agent: readAgent,
      request: () => ({ url: `${base}/api/v1/stats/markets` }),
    });
    results.adminStats = await runOpenLoop({
      ratePerSecond: 20,
      durationMs: EXTRA_MS,
      agent: readAgent,
      request: () => ({ url: `${base}/api/v1/admin/stats`, headers: { authorization: `Bearer ${adminToken}` } }),
    });
  }

  results.ledgerVerify = (await call(base, 'GET', '/api/v1/admin/ledger/verify', undefined, adminToken)).body;
  results.processes = processes.map((p) => p.spec.label);
}

function report(results: Results, startedAt: Date): void {
  const markdown = renderReport(results);
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
