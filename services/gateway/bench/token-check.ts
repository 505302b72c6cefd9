/**
 * What the gateway's token check costs per request: verifyAccessToken (HS256, pinned algorithm, kid,
 * exp/iss/aud, session, generation) plus its two revocation lookups (the user's minimum token generation and the
 * session's revocation, side by side), against the real Redis. Two ways to look them up:
 * `get` — one Redis GET per check (the gateway before the tracked cache, and still its fallback while
 * tracking is not established); `tracked` — the TrackedCache the gateway uses (a hit sends no GET; the hits
 * waiting at one time share one PING on the invalidation connection).
 *
 * Phases: `cold` — N distinct tokens of the one bench user, each seen for the first time (full signature
 * check; GETs for `get`, hits for `tracked`: both records are in memory since the warm-up),
 * sequential; `warm` — one token again and again, sequential (the latency one request sees); `concurrent` — the same
 * token from CONCURRENCY loops at once (what a loaded gateway sees). For each: p50/p90/p99/max in ms,
 * checks per second, this process's CPU µs per check (process.cpuUsage), Redis's CPU µs per check (INFO
 * cpu: includes anything else using that Redis at the time) and Redis commands sent per check.
 *
 *   pnpm --filter @orrange/gateway run bench:token   (REDIS_URL, N, CONCURRENCY override the defaults)
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { authRedisKeys, parseKeyring, signAccessToken } from '@orrange/http';
import { createLogger } from '@orrange/logger';
import { TokenChecker } from '../src/auth/token-checker';
import { INVALIDATIONS_OPTIONS, TRACKED_READS_OPTIONS, TrackedCache, type KeyReader } from '../src/auth/tracked-cache';
import { redisTlsOptions } from '@orrange/config';
import { readConfig } from '../src/config';
import { createGatewayMetrics } from '../src/observability/metrics';

const ITERATIONS = Number(process.env.N ?? 10_000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);
const WARMUP = 1_000;

interface Phase {
  ms: { p50: string; p90: string; p99: string; max: string };
  checksPerSecond: number;
  cpuUsPerCheck: string;
  redisCpuUsPerCheck: string;
  redisCommandsPerCheck: string;
}

async function main(): Promise<void> {
  const config = readConfig({ ...process.env, REDIS_PREFIX: `orrange-bench-${process.pid}` });
  const connections: Redis[] = [];
  let commands = 0;
  const connect = (options = {}) => {
    const connection = new Redis(config.REDIS_URL, {
      ...redisTlsOptions(config.REDIS_URL, config.REDIS_TLS_CA_FILE),
      maxRetriesPerRequest: 1,
      enableAutoPipelining: true,
      ...options,
    });
    const send = connection.sendCommand.bind(connection);
    Object.assign(connection, {
      sendCommand: (...args: Parameters<typeof send>) => {
        commands++;
        return send(...args);
      },
    });
    connections.push(connection);
    return connection;
  };
  const redis = connect();
  const admin = new Redis(config.REDIS_URL, redisTlsOptions(config.REDIS_URL, config.REDIS_TLS_CA_FILE));
  const keyring = parseKeyring(config.JWT_SECRETS, config.JWT_ACTIVE_KID);
  const settings = { keyring, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE };
  const sessionId = randomUUID();
  const tokens = Array.from(
    { length: ITERATIONS },
    () =>
      signAccessToken(
        { userId: 'bench-user', roles: ['user'], sessionId, generation: 1 },
        { ...settings, ttlSeconds: 900 },
      ).token,
  );
  const token = tokens[0]!;
  // A generation the tokens meet, so the lookup finds a value and compares it, as for a user who was once revoked.
  await admin.set(authRedisKeys.minGeneration(config.REDIS_PREFIX, 'bench-user'), '1', 'EX', 60);

  const tracked = new TrackedCache({
    reads: connect({ ...TRACKED_READS_OPTIONS }),
    invalidations: connect({ ...INVALIDATIONS_OPTIONS, enableAutoPipelining: false }),
    fallback: redis,
    metrics: createGatewayMetrics(new Registry()),
    logger: createLogger('gateway', 'silent'),
  });
  while (!tracked.state.tracking) await new Promise((resolve) => setTimeout(resolve, 10));

  const redisCpuUs = async () => {
    const info = await admin.info('cpu');
    const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)![1]);
    return (field('used_cpu_sys') + field('used_cpu_user')) * 1e6;
  };

  /** Runs `check` `ITERATIONS` times from `loops` loops at once; each check timed on its own. */
  async function phase(check: (i: number) => Promise<unknown>, loops: number): Promise<Phase> {
    const times = new Float64Array(ITERATIONS);
    const redisBefore = await redisCpuUs();
    const commandsBefore = commands;
    const cpuBefore = process.cpuUsage();
    const startedAt = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: loops }, async () => {
        while (next < ITERATIONS) {
          const i = next++;
          const checkStartedAt = performance.now();
          await check(i);
          times[i] = performance.now() - checkStartedAt;
        }
      }),
    );
    const elapsedMs = performance.now() - startedAt;
    const cpu = process.cpuUsage(cpuBefore);
    const sentCommands = commands - commandsBefore;
    const redisUs = (await redisCpuUs()) - redisBefore;
    const sorted = Array.from(times).sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(3);
    return {
      ms: { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[sorted.length - 1]!.toFixed(3) },
      checksPerSecond: Math.round((ITERATIONS / elapsedMs) * 1000),
      cpuUsPerCheck: ((cpu.user + cpu.system) / ITERATIONS).toFixed(1),
      redisCpuUsPerCheck: (redisUs / ITERATIONS).toFixed(1),
      redisCommandsPerCheck: (sentCommands / ITERATIONS).toFixed(3),
    };
  }

  const results: Record<string, Record<string, Phase>> = { get: {}, tracked: {} };
  for (const [name, reader] of [
    ['get', redis],
    ['tracked', tracked],
  ] as Array<[string, KeyReader]>) {
    const fresh = () => new TokenChecker(settings, reader, config.REDIS_PREFIX);
    const checker = fresh();
    for (let i = 0; i < WARMUP; i++) await checker.check(token);
    const coldChecker = fresh();
    results[name]!.cold = await phase((i) => coldChecker.check(tokens[i]!), 1);
    results[name]!.warm = await phase(() => checker.check(token), 1);
    results[name]!.concurrent = await phase(() => checker.check(token), CONCURRENCY);
  }

  await admin.del(authRedisKeys.minGeneration(config.REDIS_PREFIX, 'bench-user'));
  tracked.close();
  for (const connection of [...connections, admin]) connection.disconnect();
  console.log(JSON.stringify({ iterations: ITERATIONS, concurrency: CONCURRENCY, ...results }, null, 2));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
