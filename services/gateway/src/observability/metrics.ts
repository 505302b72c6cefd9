import type { RequestHandler } from 'express';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { routeGroupOf } from '../proxy/routes';

export interface GatewayMetrics {
  requestDuration: Histogram<'method' | 'group' | 'status'>;
  upstreamErrors: Counter<'service' | 'kind'>;
  rateLimited: Counter<'limiter'>;
  authFailures: Counter<'reason'>;
  upstreamHealthy: Gauge<'service' | 'upstream'>;
  upstreamShed: Counter<'service' | 'lane'>;
  upstreamInFlight: Gauge<'service' | 'lane'>;
  upstreamLimit: Gauge<'service' | 'lane'>;
  trackedLookups: Counter<'result'>;
  trackedClears: Counter<'reason'>;
  trackedActive: Gauge;
  trackedPings: Counter;
}

/** The gateway's own metrics, registered once per registry (see createGateway). */
export function createGatewayMetrics(registry: Registry): GatewayMetrics {
  return {
    requestDuration: new Histogram({
      name: 'gateway_http_request_duration_seconds',
      help: 'Request duration at the gateway by route group (owning service, health, metrics, docs, unmatched) and status',
      labelNames: ['method', 'group', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    }),
    upstreamErrors: new Counter({
      name: 'gateway_upstream_errors_total',
      help: 'Proxied requests that failed at the upstream: unavailable, timeout, no healthy upstream',
      labelNames: ['service', 'kind'],
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: 'gateway_rate_limit_rejections_total',
      help: 'Requests refused with 429, by limiter',
      labelNames: ['limiter'],
      registers: [registry],
    }),
    authFailures: new Counter({
      name: 'gateway_auth_failures_total',
      help: 'Requests refused with 401 at the gateway, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    upstreamHealthy: new Gauge({
      name: 'gateway_upstream_healthy',
      help: "1 when the upstream is in rotation, 0 when it is out (in a cluster: 1 when it is in every worker's rotation)",
      labelNames: ['service', 'upstream'],
      aggregator: 'min',
      registers: [registry],
    }),
    upstreamShed: new Counter({
      name: 'gateway_upstream_shed_total',
      help: 'Requests answered 503 UPSTREAM.OVERLOADED without being forwarded: the service lane had UPSTREAM_MAX_IN_FLIGHT requests in flight',
      labelNames: ['service', 'lane'],
      registers: [registry],
    }),
    upstreamInFlight: new Gauge({
      name: 'gateway_upstream_in_flight',
      help: 'Requests admitted for a service and lane (read: GET/HEAD, write: the rest) and not answered yet (in a cluster: all workers together; each admits up to UPSTREAM_MAX_IN_FLIGHT)',
      labelNames: ['service', 'lane'],
      registers: [registry],
    }),
    upstreamLimit: new Gauge({
      name: 'gateway_upstream_limit',
      help: 'Requests a service lane admits at once before shedding: UPSTREAM_MAX_IN_FLIGHT, or less while the upstream answers slower than UPSTREAM_LATENCY_TARGET_MS (in a cluster: all workers together, as in_flight)',
      labelNames: ['service', 'lane'],
      registers: [registry],
    }),
    trackedLookups: new Counter({
      name: 'gateway_tracked_cache_lookups_total',
      help: 'Revocation (not-before) lookups: hit (answered in-process), miss (GET on the tracked connection, answer kept), untracked (GET while tracking is not established, nothing kept)',
      labelNames: ['result'],
      registers: [registry],
    }),
    trackedClears: new Counter({
      name: 'gateway_tracked_cache_clears_total',
      help: 'Times the in-process cache was emptied: connection (a tracking connection was lost) or flush (Redis was flushed)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    trackedActive: new Gauge({
      name: 'gateway_tracked_cache_active',
      help: '1 while Redis tracking is established and the in-process cache answers, 0 while every lookup goes to Redis (in a cluster: 1 when it is in every worker)',
      aggregator: 'min',
      registers: [registry],
    }),
    trackedPings: new Counter({
      name: 'gateway_tracked_cache_pings_total',
      help: 'PINGs sent on the invalidation subscriber: while requests come, about two per REVOCATION_LEASE_MS, whatever the rate of hits (one per burst of hits when the lease is 0 or lapsed)',
      registers: [registry],
    }),
  };
}

/** Times every request by route group; the group keeps label cardinality bounded whatever the path. */
export function requestMetrics(metrics: GatewayMetrics): RequestHandler {
  return (req, res, next) => {
    const end = metrics.requestDuration.startTimer();
    res.on('finish', () => end({ method: req.method, group: routeGroupOf(req.path), status: String(res.statusCode) }));
    next();
  };
}
