/**
 * What the gateway costs per request beyond a bare proxy, measured as CPU: the real gateway (compiled, as the
 * stack runs it) and the bare gateway's proxy (bench/lib/bare-gateway.server.ts), each in front of the same stub
 * upstream that answers an order's 201 at once, each sent the same authenticated order POSTs at a fixed rate. The
 * stub and the load generator run in this process; only the proxy's process is measured (CPU from /proc, and its
 * write system calls), plus the Redis commands the gateway sent per request.
 *
 *   pnpm bench:gateway
 *
 * A row `api-key` is the gateway sent the same POSTs signed in with `X-API-Key` instead (20 keys, resolved by the stub as
 * the user service would, then cached).
 *
 * A further row, `shed`, is what a request the gateway sheds costs it (503 UPSTREAM.OVERLOADED, see
 * proxy/admission.ts): a second gateway, limited to one request in flight, in front of a stub that never answers
 * orders, sent the same POSTs. Under overload most requests are these, on the same cores as the ones admitted.
 *
 * GATEWAY_OVERHEAD_RATE (400/s), GATEWAY_OVERHEAD_S (15 per round), GATEWAY_OVERHEAD_ROUNDS (3, alternating bare,
 * gateway and shed, so that a machine that changes speed meanwhile changes all three).
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { Redis } from 'ioredis';
import { allocatePorts, launch, stackSpecs, waitForHttp } from '@orrange/stack/stack';
import { freePort } from '@orrange/testing';
import { parseKeyring, signAccessToken } from '../packages/http/src/access-token';
import { readConfig } from '../services/gateway/src/config';
import { startBareServer } from './lib/bare-gateway';
import { commandsProcessed } from './lib/counters';
import { calibrate } from './lib/environment';
import { loadAgent, runOpenLoop, usage, type RequestSpec } from './lib/open-loop';
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

/** What the stub answers the gateway's resolution of any API key with (as the user service does, for a known key). */
const RESOLVED_KEY = JSON.stringify({ userId: randomUUID(), roles: ['user'], scopes: ['read', 'trade'] });

/** An upstream that answers an order's 201 at once, or (`hangOrders`) never answers an order. */
function stubUpstream(port: number, hangOrders = false): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/internal/api-keys/resolve') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(RESOLVED_KEY);
      }
      const order = req.method === 'POST' && req.url === '/api/v1/orders';
      if (order && hangOrders) return;
      res.writeHead(order ? 201 : 200, { 'content-type': 'application/json' });
      res.end(order ? ORDER_ANSWER : '{"status":"ok"}');
    });
  });
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

async function main(): Promise<void> {
  const redisServer = await startPrivateRedis(await freePort());
  if (!redisServer) throw new Error('redis-server could not be started');
  const redis = new Redis(redisServer.url);
  const upstreamPort = await freePort();
  const upstream = await stubUpstream(upstreamPort);
  const hangingPort = await freePort();
  const hanging = await stubUpstream(hangingPort, true);
  const barePort = await freePort();
  // The gateway as the stack starts it (its environment and node options), every service at the stub.
  const ports = await allocatePorts(async () => upstreamPort);
  ports.gateway = await freePort();
  const env = {
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    REDIS_URL: redisServer.url,
    REDIS_TLS_CA_FILE: '',
    REDIS_PREFIX: `orrange-overhead-${process.pid}`,
    RATE_LIMIT_PER_MINUTE: '10000000',
  };
  const gatewaySpec = stackSpecs(env, ports).find((spec) => spec.service === 'gateway')!;
  // Profiling the gateway, e.g. BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'.
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const gateway = launch(gatewaySpec, { mode: 'dist', nodeArgs });
  // The shedding gateway: one order in flight at a time (it hangs until UPSTREAM_TIMEOUT_MS), the rest shed.
  const shedPorts = await allocatePorts(async () => hangingPort);
  shedPorts.gateway = await freePort();
  const shedSpec = stackSpecs(
    { ...env, REDIS_PREFIX: `${env.REDIS_PREFIX}-shed`, UPSTREAM_MAX_IN_FLIGHT: '1', UPSTREAM_LATENCY_TARGET_MS: '0' },
    shedPorts,
  ).find((spec) => spec.service === 'gateway')!;
  const shedding = launch(shedSpec, { mode: 'dist', nodeArgs });
  const bare = startBareServer(['proxy', String(barePort), String(upstreamPort)]);
  const processes = [gateway, shedding, bare];
  try {
    await waitForHttp(`http://127.0.0.1:${ports.gateway}/health`, 30_000, (status) => status < 500);
    await waitForHttp(`http://127.0.0.1:${shedPorts.gateway}/health`, 30_000, (status) => status < 500);
    await waitForHttp(`http://127.0.0.1:${barePort}/api/v1/orders`, 30_000, (status) => status < 500);
    const config = readConfig({ ...process.env, ...gatewaySpec.env });
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
    const apiKeys = Array.from({ length: USERS }, () => `ork_live_${randomUUID().replaceAll('-', '')}`);
    const body = JSON.stringify({
      side: 'SELL',
      asset: 'BTC',
      fiatCurrency: 'USD',
      price: '50000.00',
      amount: '0.01000000',
      paymentMethods: ['SEPA'],
    });
    const agent = loadAgent(256);
    const orders =
      (port: number, auth: 'token' | 'api-key' = 'token') =>
      (i: number): RequestSpec => ({
        url: `http://127.0.0.1:${port}/api/v1/orders`,
        method: 'POST',
        headers: {
          ...(auth === 'token'
            ? { authorization: `Bearer ${tokens[i % USERS]}` }
            : { 'x-api-key': apiKeys[i % USERS]! }),
          'idempotency-key': randomUUID(),
        },
        body,
      });
    const redisCommands = async () => commandsProcessed(await redis.info('stats'));
    const measure = async (name: string, port: number, pid: number, auth: 'token' | 'api-key' = 'token') => {
      const before = usage(pid);
      const commandsBefore = await redisCommands();
      const result = await runOpenLoop({
        ratePerSecond: RATE,
        durationMs: STEP_S * 1000,
        agent,
        request: orders(port, auth),
      });
      await new Promise((resolve) => setTimeout(resolve, 500));
      const after = usage(pid);
      const commands = (await redisCommands()) - commandsBefore;
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
    for (const port of [ports.gateway, shedPorts.gateway, barePort])
      await runOpenLoop({ ratePerSecond: RATE, durationMs: 3000, agent, request: orders(port) });
    await runOpenLoop({ ratePerSecond: RATE, durationMs: 3000, agent, request: orders(ports.gateway, 'api-key') });
    for (let round = 0; round < ROUNDS; round++) {
      await measure('bare', barePort, bare.child.pid!);
      await measure('gateway', ports.gateway, gateway.child.pid!);
      await measure('api-key', ports.gateway, gateway.child.pid!, 'api-key');
      await measure('shed', shedPorts.gateway, shedding.child.pid!);
    }
    console.log(`machine speed ${calibrate()} ms`);
    await agent.close();
  } finally {
    for (const p of processes) p.child.kill('SIGTERM');
    await Promise.all(processes.map((p) => p.exited));
    upstream.close();
    hanging.closeAllConnections();
    hanging.close();
    redis.disconnect();
    await redisServer.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
