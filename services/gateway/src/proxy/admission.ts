import type { IncomingMessage, ServerResponse } from 'node:http';
import parseurl from 'parseurl';
import { endWithProblem, requestIdFor } from '@orrange/http';
import { gatewayErrors } from '../errors';
import { closesAfterRefusal } from '../limits/body-size.middleware';
import type { GatewayMetrics } from '../observability/metrics';
import { serviceFor, SERVICES, type ServiceName } from './routes';

/**
 * The two request lanes of every upstream (see Upstream.agents): reads (GET/HEAD, served from caches, must
 * stay fast) and writes (wait for market locks, slow under load). Each is admitted, and shed, on its own.
 */
export type Lane = 'read' | 'write';
export const LANES: readonly Lane[] = ['read', 'write'];

export const laneOf = (req: IncomingMessage): Lane =>
  req.method === 'GET' || req.method === 'HEAD' ? 'read' : 'write';

export interface AdmissionDeps {
  /** Requests in flight per service and lane in this process; beyond it a request is shed. 0 = no limit. */
  maxInFlight: number;
  /**
   * The latency a lane's answers should keep (a moving average): while they take longer, the lane's limit shrinks
   * below `maxInFlight`, and grows back while they are faster. 0 = a fixed limit of `maxInFlight`.
   */
  latencyTargetMs?: number;
  metrics: GatewayMetrics;
  /** What every answer carries, given to a shed one too: see admission. */
  answerSteps: AnswerStep[];
}

/** The smallest limit an adaptive lane shrinks to: a few requests always get through to measure the upstream. */
export const ADAPTIVE_LIMIT_MIN = 8;
/** One decrease at most per this time (a decision per window of answers, not per slow answer). */
export const DECREASE_EVERY_MS = 100;
/** How far one decrease goes at most and at least: half the limit, a tenth of it. */
const DECREASE_FACTOR_MIN = 0.5;
const DECREASE_FACTOR_MAX = 0.9;
/** Weight of each answer in the latency's moving average. */
const LATENCY_EWMA_WEIGHT = 0.05;

/**
 * A lane's concurrency limit that follows the upstream's latency, additive increase and multiplicative decrease:
 * a fixed limit high enough for bursts admits, under overload, far more than the stack can answer within any
 * latency worth having (measured: 256 admitted writes, 340/s completed, accepted p99 1.8 s), and one low enough
 * for overload sheds a normal day's bursts.
 *
 * While the moving average of the lane's latencies is above the target, the limit shrinks at most every
 * DECREASE_EVERY_MS, in proportion to how far the average is over (target / average, between a half and nine
 * tenths): an overload that starts with the limit at its maximum is cut to size within a few hundred milliseconds,
 * not the seconds of a tenth per step (measured before: accepted p99 1,051 ms at twice saturation, most of it in the
 * first seconds). While the average is below the target the limit grows by two per `limit` answers, up to the
 * configured maximum, but only while it is in use (at least half of it in flight): a limit that light traffic never
 * came near says nothing about what the upstream carries, and growing it back to the maximum between overloads
 * would let the next one start with the same queue.
 */
export class AdaptiveLimit {
  private limit: number;
  private latencyMs = 0;
  private lastDecreaseAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly max: number,
    private readonly targetMs: number,
  ) {
    this.limit = max;
  }

  get current(): number {
    return Math.floor(this.limit);
  }

  /**
   * One answer of the lane, with the requests still in flight when it came. A decrease starts from what is in
   * flight, not from the limit: a limit of 256 with 100 in flight while answers are slow means 100 is already too
   * many. It waits for a quarter of the limit in flight (measured: waiting for half of 256 let a queue of seconds
   * build first); fewer requests in flight, slow, are not a queue this gateway builds (a cold start, a burst of
   * registrations hashing passwords, one slow statement): shedding them would turn slowness into errors.
   */
  answered(latencyMs: number, now: number, inFlight: number): void {
    this.latencyMs += (latencyMs - this.latencyMs) * LATENCY_EWMA_WEIGHT;
    if (this.latencyMs <= this.targetMs) {
      if (inFlight >= this.limit / 2) this.limit = Math.min(this.max, this.limit + 2 / this.limit);
    } else if (inFlight >= this.limit / 4 && now - this.lastDecreaseAt >= DECREASE_EVERY_MS) {
      const factor = Math.min(DECREASE_FACTOR_MAX, Math.max(DECREASE_FACTOR_MIN, this.targetMs / this.latencyMs));
      this.limit = Math.max(Math.min(ADAPTIVE_LIMIT_MIN, this.max), Math.min(this.limit, inFlight + 1) * factor);
      this.lastDecreaseAt = now;
    }
  }
}

/** A step every answer of the gateway goes through (security headers, CORS): connect-style, calling `next` at once. */
export type AnswerStep = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

/**
 * Admits a request to its service's lane, or answers it 503 `UPSTREAM.OVERLOADED` with `Retry-After` at once, never
 * forwarded: sheds load instead of queueing it. The ones admitted keep the latency they would have had, instead of
 * everyone waiting behind a queue that only grows (an overloaded stack used to answer everything, after 37 s). A
 * request counts from admission until its response is closed (sent, or the client went away), whatever answered
 * it: the upstream, or the gateway itself (401, 404, 429, 502, 504).
 *
 * It runs at the edge, before express: the returned function is called with every request the server receives and
 * answers false when it shed the request (answered it), true when the app is to handle it (admitted, or not for a
 * service: the gateway's own pages, CORS preflights). Under overload most requests are shed, on the same cores as
 * the ones admitted: a shed request that first went through the app's chain cost about as much as a proxied one
 * (313-403 µs of gateway CPU against 335 for the bare proxy, 2026-12-05); the request id, `answerSteps` (the same
 * security headers and CORS as every answer) and the problem are all it gets. It is counted
 * (gateway_upstream_shed_total and the request durations), not logged: a line per shed request would be one more
 * cost of an overload. It comes before authentication and rate limits, so a shed request costs no Redis round trip
 * and none of the client's budget: the client retries it with its Idempotency-Key.
 *
 * The count is per process: with GATEWAY_WORKERS > 1 each worker admits up to its limit on its own. With a
 * latency target the limit of each lane follows the upstream's latency (AdaptiveLimit).
 */
export function admission(deps: AdmissionDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const inFlight = Object.fromEntries(SERVICES.map((service) => [service, { read: 0, write: 0 }])) as Record<
    ServiceName,
    Record<Lane, number>
  >;
  const adaptive = (deps.latencyTargetMs ?? 0) > 0 && deps.maxInFlight > 0;
  const limits = Object.fromEntries(
    SERVICES.map((service) => [
      service,
      {
        read: new AdaptiveLimit(deps.maxInFlight, deps.latencyTargetMs ?? 0),
        write: new AdaptiveLimit(deps.maxInFlight, deps.latencyTargetMs ?? 0),
      },
    ]),
  ) as Record<ServiceName, Record<Lane, AdaptiveLimit>>;
  const limited = deps.maxInFlight > 0;
  for (const service of SERVICES)
    for (const lane of LANES) {
      deps.metrics.upstreamInFlight.set({ service, lane }, 0);
      if (limited) deps.metrics.upstreamLimit.set({ service, lane }, deps.maxInFlight);
    }
  // One answer for every shed request (an AppError is immutable): no Error, and its stack, made per shed request.
  const overloaded = gatewayErrors.upstreamOverloaded();
  const proceed = () => undefined;
  const shed = (req: IncomingMessage, res: ServerResponse, service: ServiceName, lane: Lane) => {
    const startedAt = performance.now();
    const requestId = requestIdFor(req.headers['x-request-id']);
    res.setHeader('X-Request-Id', requestId);
    // Its body is never read: past a size, the connection closes instead of Node reading it to throw it away.
    if (closesAfterRefusal(req)) res.setHeader('Connection', 'close');
    for (const step of deps.answerSteps) step(req, res, proceed);
    endWithProblem(res, overloaded, requestId);
    deps.metrics.upstreamShed.inc({ service, lane });
    deps.metrics.requestDuration.observe(
      { method: req.method, group: service, status: String(overloaded.status) },
      (performance.now() - startedAt) / 1000,
    );
  };
  return (req, res) => {
    // A CORS preflight is answered by the gateway itself (the cors step), never forwarded.
    if (req.method === 'OPTIONS') return true;
    // The path as express will read it (parseurl keeps its parse on the request for express to reuse).
    const service = serviceFor(parseurl(req)?.pathname ?? '');
    if (!service) return true;
    const lane = laneOf(req);
    const counts = inFlight[service];
    const limit = limits[service][lane];
    if (limited && counts[lane] >= (adaptive ? limit.current : deps.maxInFlight)) {
      shed(req, res, service, lane);
      return false;
    }
    counts[lane] += 1;
    deps.metrics.upstreamInFlight.inc({ service, lane });
    const admittedAt = performance.now();
    res.once('close', () => {
      counts[lane] -= 1;
      deps.metrics.upstreamInFlight.dec({ service, lane });
      if (!adaptive) return;
      const before = limit.current;
      limit.answered(performance.now() - admittedAt, Date.now(), counts[lane]);
      if (limit.current !== before) deps.metrics.upstreamLimit.set({ service, lane }, limit.current);
    });
    return true;
  };
}
