/**
 * What the gateway's token check costs per request: verifyAccessToken (HS256, pinned algorithm, kid,
 * exp/iss/aud) plus the one Redis GET of the user's not-before second, done sequentially against the real
 * Redis, the way one request sees it. `cold`: N distinct tokens, each seen for the first time (full
 * signature check); `warm`: one token again and again (verified-token cache, so the Redis GET dominates).
 * Prints p50/p90/p99/max in milliseconds.
 *
 *   pnpm --filter @orrange/gateway run bench:token   (REDIS_URL, N override the defaults)
 */
import { Redis } from 'ioredis';
import { authRedisKeys, parseKeyring, signAccessToken } from '@orrange/http';
import { TokenChecker } from '../src/auth/token-checker';
import { readConfig } from '../src/config';

const ITERATIONS = Number(process.env.N ?? 10_000);
const WARMUP = 1_000;

async function main(): Promise<void> {
  const config = readConfig({ ...process.env, REDIS_PREFIX: `orrange-bench-${process.pid}` });
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1 });
  const keyring = parseKeyring(config.JWT_SECRETS, config.JWT_ACTIVE_KID);
  const settings = { keyring, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE };
  const checker = new TokenChecker(settings, redis, config.REDIS_PREFIX);
  const tokens = Array.from({ length: ITERATIONS }, () => signAccessToken({ userId: 'bench-user', roles: ['user'] }, { ...settings, ttlSeconds: 900 }).token);
  const token = tokens[0]!;
  // A not-before in the past, so the GET finds a value and compares it, as for a user who was once revoked.
  await redis.set(authRedisKeys.notBefore(config.REDIS_PREFIX, 'bench-user'), '1', 'EX', 60);

  for (let i = 0; i < WARMUP; i++) await checker.check(token);
  const cold = new Float64Array(ITERATIONS);
  const warm = new Float64Array(ITERATIONS);
  const fresh = new TokenChecker(settings, redis, config.REDIS_PREFIX);
  for (let i = 0; i < ITERATIONS; i++) {
    const startedAt = performance.now();
    await fresh.check(tokens[i]!);
    cold[i] = performance.now() - startedAt;
  }
  for (let i = 0; i < ITERATIONS; i++) {
    const startedAt = performance.now();
    await checker.check(token);
    warm[i] = performance.now() - startedAt;
  }
  await redis.del(authRedisKeys.notBefore(config.REDIS_PREFIX, 'bench-user'));
  redis.disconnect();

  const summary = (values: Float64Array) => {
    const sorted = Array.from(values).sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(3);
    return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[sorted.length - 1]!.toFixed(3) };
  };
  console.log(JSON.stringify({ iterations: ITERATIONS, coldMs: summary(cold), warmMs: summary(warm) }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
