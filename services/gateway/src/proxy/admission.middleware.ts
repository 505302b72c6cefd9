import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import { sendProblem } from '@orrange/http';
import { gatewayErrors } from '../errors';
import type { GatewayMetrics } from '../observability/metrics';
import { serviceFor, SERVICES, type ServiceName } from './routes';

/**
 * The two request lanes of every upstream (see Upstream.agents): reads (GET/HEAD, served from caches, must
 * stay fast) and writes (wait for market locks, slow under load). Each is admitted, and shed, on its own.
 */
export type Lane = 'read' | 'write';
export const LANES: readonly Lane[] = ['read', 'write'];

export const laneOf = (req: IncomingMessage): Lane => (req.method === 'GET' || req.method === 'HEAD' ? 'read' : 'write');

export interface AdmissionDeps {
  /** Requests in flight per service and lane in this process; beyond it a request is shed. 0 = no limit. */
  maxInFlight: number;
  metrics: GatewayMetrics;
}

/**
 * Sheds load instead of queueing it. A request for a service whose lane already holds `maxInFlight`
 * requests is answered at once with 503 `UPSTREAM.OVERLOADED` and `Retry-After`, never forwarded; the ones
 * admitted keep the latency they would have had, instead of everyone waiting behind a queue that only grows
 * (an overloaded stack used to answer everything, after 37 s). A request counts from admission until its
 * response is closed (sent, or the client went away), whatever answered it: the upstream, or the gateway
 * itself (401, 429, 502, 504). It sits before authentication and rate limits, so a shed request costs no
 * Redis round trip and none of the client's budget: the client retries it with its Idempotency-Key.
 *
 * The count is per process: with GATEWAY_WORKERS > 1 each worker admits up to `maxInFlight` on its own.
 */
export function shedOverload(deps: AdmissionDeps): RequestHandler {
  const inFlight = Object.fromEntries(SERVICES.map((service) => [service, { read: 0, write: 0 }])) as Record<ServiceName, Record<Lane, number>>;
  for (const service of SERVICES) for (const lane of LANES) deps.metrics.upstreamInFlight.set({ service, lane }, 0);
  const limited = deps.maxInFlight > 0;
  return (req, res, next) => {
    const service = serviceFor(req.path);
    if (!service) return next();
    const lane = laneOf(req);
    const counts = inFlight[service];
    if (limited && counts[lane] >= deps.maxInFlight) {
      deps.metrics.upstreamShed.inc({ service, lane });
      return sendProblem(res, gatewayErrors.upstreamOverloaded());
    }
    counts[lane] += 1;
    deps.metrics.upstreamInFlight.inc({ service, lane });
    res.once('close', () => {
      counts[lane] -= 1;
      deps.metrics.upstreamInFlight.dec({ service, lane });
    });
    next();
  };
}
