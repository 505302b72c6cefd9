import express, { type RequestHandler, type Router } from 'express';
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export type CheckStatus = 'ok' | 'degraded' | 'down';

export interface CheckResult {
  status: CheckStatus;
  latencyMs?: number | null;
  [detail: string]: unknown;
}

export type HealthCheck = () => Promise<CheckResult> | CheckResult;

/** A registry with the process's default metrics (RSS, event-loop lag, GC) labelled by service. */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * A gauge of rows by status, counted from the database at scrape time, so every replica reports the same truth.
 * Every status of `statuses` is set (0 when it has no rows); a failed count keeps the last values.
 */
export function statusCountGauge(
  registry: Registry,
  options: {
    name: string;
    help: string;
    statuses: readonly string[];
    count: () => Promise<Array<{ status: string; n: number }>>;
  },
): void {
  const { statuses, count } = options;
  new Gauge({
    name: options.name,
    help: options.help,
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const rows = await count().catch(() => undefined);
      if (!rows) return;
      for (const status of statuses) this.set({ status }, rows.find((r) => r.status === status)?.n ?? 0);
    },
  });
}

/** Request duration by method, route template and status; the route template keeps label cardinality bounded. */
export function httpMetrics(registry: Registry): RequestHandler {
  // Reuse the histogram when an app is built twice over one registry (tests do).
  const existing = registry.getSingleMetric('http_request_duration_seconds') as
    | Histogram<'method' | 'route' | 'status'>
    | undefined;
  const duration =
    existing ??
    new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    });
  return (req, res, next) => {
    const end = duration.startTimer();
    res.on('finish', () => {
      const route = req.route?.path ? `${req.baseUrl}${req.route.path}` : 'unmatched';
      end({ method: req.method, route, status: String(res.statusCode) });
    });
    next();
  };
}

async function runCheck(check: HealthCheck): Promise<CheckResult> {
  const startedAt = performance.now();
  try {
    const result = await check();
    return { latencyMs: Math.round((performance.now() - startedAt) * 100) / 100, ...result };
  } catch (error) {
    return { status: 'down', error: error instanceof Error ? error.message : String(error) };
  }
}

export function overallStatus(statuses: CheckStatus[]): CheckStatus {
  if (statuses.includes('down')) return 'down';
  if (statuses.includes('degraded')) return 'degraded';
  return 'ok';
}

/** `/health` (every check, 503 when any is down) and `/metrics` (Prometheus text). */
export function observabilityRouter(registry: Registry, checks: Record<string, HealthCheck>): Router {
  const router = express.Router({ caseSensitive: true, strict: true });
  router.get('/health', async (_req, res) => {
    const names = Object.keys(checks);
    const results = await Promise.all(names.map((name) => runCheck(checks[name]!)));
    const status = overallStatus(results.map((r) => r.status));
    res
      .status(status === 'down' ? 503 : 200)
      .json({ status, checks: Object.fromEntries(names.map((n, i) => [n, results[i]])) });
  });
  router.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  return router;
}
