/**
 * What the gateway costs per request beyond a bare proxy, measured as CPU: the real gateway (compiled, as the
 * stack runs it) and the bare gateway's proxy (bench/lib/bare-gateway.server.ts), each in front of the same stub
 * upstream that answers an order's 201 at once, each sent the same authenticated order POSTs at a fixed rate. The
 * stub and the load generator run in this process; only the proxy's process is measured (CPU from /proc, and its
 * write system calls), plus the Redis commands the gateway sent per request.
 *
 *   pnpm bench:gateway
 *
 * GATEWAY_OVERHEAD_RATE (400/s), GATEWAY_OVERHEAD_S (15 per round), GATEWAY_OVERHEAD_ROUNDS (3, alternating bare
 * and gateway, so that a machine that changes speed meanwhile changes both).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { parseKeyring, signAccessToken } from '../packages/http/src/access-token';
import { ROOT, serviceDir } from '@orrange/stack/services';
import { waitForHttp } from '@orrange/stack/stack';
import { freePort } from '@orrange/testing';
import { GATEWAY } from '@orrange/config';
import { readConfig } from '../services/gateway/src/config';
import { calibrate } from './lib/environment';
import { loadAgent, runOpenLoop, usage } from './lib/open-loop';
import { startPrivateRedis } from './lib/private-redis';

const RATE = Number(process.env.GATEWAY_OVERHEAD_RATE ?? 400);
const STEP_S = Number(process.env.GATEWAY_OVERHEAD_S ?? 15);
const ROUNDS = Number(process.env.GATEWAY_OVERHEAD_ROUNDS ?? 3);
const USERS = 20;
/** The upstream's answer: the size of a placed order's 201 with one fill. */
const ORDER_ANSWER = JSON.stringify({
  order: {
    id: randomUUID(),
    userId: randomUUID(),
    side: 'SELL',
    asset: 'BTC',
    fiatCurrency: 'USD',
    price: '50000.00',
    amount: '0.01000000',
    remaining: '0.00000000',
    minFill: '0.00000000',
    paymentMethods: ['SEPA'],
    paymentWindowMinutes: 30,
    status: 'FILLED',
    createdAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
  },
  fills: [{ tradeId: randomUUID(), price: '50000.00', amount: '0.01000000', counterOrderId: randomUUID() }],
});

const TSX_LOADER = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

function stubUpstream(port: number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const order = req.method === 'POST' && req.url === '/api/v1/orders';
      res.writeHead(order ? 201 : 200, { 'content-type': 'application/json' });
      res.end(order ? ORDER_ANSWER : '{"status":"ok"}');
    });
  });
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

function startProcess(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; exited: Promise<void> } {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return { child, exited: new Promise((resolve) => child.on('exit', () => resolve())) };
}

async function commandsProcessed(redis: Redis): Promise<number> {
  return Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))?.[1] ?? 0);
}

async function main(): Promise<void> {
  const redisServer = await startPrivateRedis(await freePort());
  if (!redisServer) throw new Error('redis-server could not be started');
  const redis = new Redis(redisServer.url);
  const upstreamPort = await freePort();
  const upstream = await stubUpstream(upstreamPort);
  const upstreamUrl = `http://127.0.0.1:${upstreamPort}`;
  const [gatewayPort, barePort] = [await freePort(), await freePort()];
  const prefix = `orrange-overhead-${process.pid}`;
  const env = {
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    REDIS_URL: redisServer.url,
    REDIS_TLS_CA_FILE: '',
    REDIS_PREFIX: prefix,
    PORT: String(gatewayPort),
    RATE_LIMIT_PER_MINUTE: '10000000',
    USER_SERVICE_URLS: upstreamUrl,
    ORDER_BOOK_SERVICE_URLS: upstreamUrl,
    TRADE_SERVICE_URLS: upstreamUrl,
    DISPUTE_SERVICE_URLS: upstreamUrl,
    NODE_OPTIONS: GATEWAY.nodeOptions,
  };
  const gateway = startProcess(['--enable-source-maps', path.join(serviceDir('gateway'), 'dist/index.js')], env);
  const bare = startProcess([
    '--import',
    TSX_LOADER,
    path.join(__dirname, 'lib/bare-gateway.server.ts'),
    'proxy',
    String(barePort),
    String(upstreamPort),
  ]);
  const processes = [gateway, bare];
  try {
    await waitForHttp(`http://127.0.0.1:${gatewayPort}/health`, 30_000, (status) => status < 500);
    await waitForHttp(`http://127.0.0.1:${barePort}/api/v1/orders`, 30_000, (status) => status < 500);
    const config = readConfig({ ...process.env, ...env });
    const settings = {
      keyring: parseKeyring(config.JWT_SECRETS, config.JWT_ACTIVE_KID),
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      ttlSeconds: 3600,
    };
    const tokens = Array.from(
      { length: USERS },
      () =>
        signAccessToken({ userId: randomUUID(), roles: ['user'], sessionId: randomUUID(), generation: 0 }, settings)
          .token,
    );
    const body = JSON.stringify({
      side: 'SELL',
      asset: 'BTC',
      fiatCurrency: 'USD',
      price: '50000.00',
      amount: '0.01000000',
      paymentMethods: ['SEPA'],
    });
    const agent = loadAgent(256);
    const measure = async (name: string, port: number, pid: number) => {
      const before = usage(pid);
      const commandsBefore = await commandsProcessed(redis);
      const result = await runOpenLoop({
        ratePerSecond: RATE,
        durationMs: STEP_S * 1000,
        agent,
        request: (i) => ({
          url: `http://127.0.0.1:${port}/api/v1/orders`,
          method: 'POST',
          headers: { authorization: `Bearer ${tokens[i % USERS]}`, 'idempotency-key': randomUUID() },
          body,
        }),
      });
      await new Promise((resolve) => setTimeout(resolve, 500));
      const after = usage(pid);
      const commands = (await commandsProcessed(redis)) - commandsBefore;
      const requests = result.scheduled;
      console.log(
        `${name.padEnd(8)} ${RATE}/s: ${((1e6 * (after.cpuS - before.cpuS)) / requests).toFixed(0)} µs CPU/request, ` +
          `${((after.writes - before.writes) / requests).toFixed(2)} writes/request, ` +
          `${(commands / requests).toFixed(2)} Redis commands/request, p99 ${result.latencyMs.p99} ms, ` +
          `statuses ${JSON.stringify(result.byStatus)}`,
      );
    };
    console.log(`machine speed ${calibrate()} ms`);
    // Warm-up: JIT, connections, the token and tracking caches.
    for (const [port, pid] of [
      [gatewayPort, gateway.child.pid!],
      [barePort, bare.child.pid!],
    ] as const)
      await runOpenLoop({
        ratePerSecond: RATE,
        durationMs: 3000,
        agent,
        request: (i) => ({
          url: `http://127.0.0.1:${port}/api/v1/orders`,
          method: 'POST',
          headers: { authorization: `Bearer ${tokens[i % USERS]}`, 'idempotency-key': randomUUID() },
          body,
        }),
      }).then(() => pid);
    for (let round = 0; round < ROUNDS; round++) {
      await measure('bare', barePort, bare.child.pid!);
      await measure('gateway', gatewayPort, gateway.child.pid!);
    }
    console.log(`machine speed ${calibrate()} ms`);
    await agent.close();
  } finally {
    for (const p of processes) p.child.kill('SIGTERM');
    await Promise.all(processes.map((p) => p.exited));
    upstream.close();
    redis.disconnect();
    await redisServer.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
