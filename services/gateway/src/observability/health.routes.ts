import express, { type Request, type Router } from 'express';
import type { Redis } from 'ioredis';
import { overallStatus, type CheckStatus } from '@orrange/http';
import { requestJson } from '../proxy/http-json';
import { SERVICES, type ServiceName } from '../proxy/routes';
import type { Upstream, Upstreams } from '../proxy/upstream-pool';

export interface ServiceHealth {
  status: CheckStatus;
  latencyMs: number | null;
  checks: Record<string, unknown>;
  replicas: { total: number; ok: number };
}

interface ReplicaHealth {
  status: CheckStatus;
  latencyMs: number | null;
  checks: Record<string, unknown>;
}

const STATUSES: readonly CheckStatus[] = ['ok', 'degraded', 'down'];
const round = (ms: number) => Math.round(ms * 100) / 100;

async function replicaHealth(upstream: Upstream, timeoutMs: number): Promise<ReplicaHealth> {
  const startedAt = performance.now();
  try {
    const res = await requestJson(`${upstream.url}/health`, { agent: upstream.agents.control, timeoutMs });
    const body = (res.body ?? {}) as { status?: unknown; checks?: unknown };
    const status = STATUSES.includes(body.status as CheckStatus) ? (body.status as CheckStatus) : 'down';
    const checks =
      typeof body.checks === 'object' && body.checks !== null ? (body.checks as Record<string, unknown>) : {};
    return { status, latencyMs: round(performance.now() - startedAt), checks };
  } catch {
    return { status: 'down', latencyMs: null, checks: {} };
  }
}

/** One service from all its replicas: ok when all are, down when none answers ok/degraded, else degraded. */
export async function serviceHealth(upstreams: Upstream[], timeoutMs: number): Promise<ServiceHealth> {
  const replicas = await Promise.all(upstreams.map((upstream) => replicaHealth(upstream, timeoutMs)));
  const up = replicas.filter((r) => r.status !== 'down');
  const ok = replicas.filter((r) => r.status === 'ok').length;
  const status: CheckStatus = !up.length ? 'down' : ok === replicas.length ? 'ok' : 'degraded';
  const first = up[0] ?? replicas[0]!;
  return { status, latencyMs: first.latencyMs, checks: first.checks, replicas: { total: replicas.length, ok } };
}

async function redisHealth(
  redis: Redis,
  timeoutMs: number,
): Promise<{ status: CheckStatus; latencyMs: number | null }> {
  const startedAt = performance.now();
  try {
    await Promise.race([
      redis.ping(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), timeoutMs).unref()),
    ]);
    return { status: 'ok', latencyMs: round(performance.now() - startedAt) };
  } catch {
    return { status: 'down', latencyMs: null };
  }
}

export interface HealthReport {
  status: CheckStatus;
  services: Record<ServiceName, ServiceHealth>;
  checks: { redis: { status: CheckStatus; latencyMs: number | null } };
}

/** Every service's /health asked in parallel with a short timeout, plus the gateway's own Redis (auth and rate limits need it). */
async function healthReport(deps: { upstreams: Upstreams; redis: Redis; timeoutMs: number }): Promise<HealthReport> {
  const [redis, ...services] = await Promise.all([
    redisHealth(deps.redis, deps.timeoutMs),
    ...SERVICES.map((service) => serviceHealth(deps.upstreams.pools[service].upstreams, deps.timeoutMs)),
  ]);
  const status = overallStatus([redis.status, ...services.map((s) => (s as ServiceHealth).status)]);
  return {
    status,
    services: Object.fromEntries(SERVICES.map((service, i) => [service, services[i]])) as Record<
      ServiceName,
      ServiceHealth
    >,
    checks: { redis },
  };
}

/** What anyone may see: each service's status and latency, none of the checks (queues, pools, replicas) behind them. */
function publicView(report: HealthReport) {
  const services = Object.fromEntries(
    Object.entries(report.services).map(([name, s]) => [
      name,
      { status: s.status, latencyMs: s.latencyMs, checks: {} },
    ]),
  );
  return { status: report.status, services };
}

/**
 * `/health`: 503 when anything is down. Cheap whoever asks and however often: one report is made at most every
 * `cacheMs` and shared by every request meanwhile (concurrent ones included), so a flood of /health is not a flood
 * of probes to every replica. Operators (see operatorCheck) see every check; everyone else the statuses only.
 * Addresses of replicas are never shown.
 */
export function healthRouter(deps: {
  upstreams: Upstreams;
  redis: Redis;
  timeoutMs: number;
  cacheMs: number;
  isOperator: (req: Request) => boolean;
}): Router {
  const router = express.Router({ caseSensitive: true, strict: true });
  let cached: { madeAtMs: number; report: Promise<HealthReport> } | undefined;
  const report = () => {
    const now = Date.now();
    if (!cached || now - cached.madeAtMs >= deps.cacheMs) cached = { madeAtMs: now, report: healthReport(deps) };
    return cached.report;
  };
  router.get('/health', async (req, res) => {
    const current = await report();
    res.status(current.status === 'down' ? 503 : 200).json(deps.isOperator(req) ? current : publicView(current));
  });
  return router;
}
