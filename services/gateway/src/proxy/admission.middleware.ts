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

/**
 * Sheds load instead of queueing it. A request for a service whose lane already holds `maxInFlight`
 * requests is answered at once with 503 `UPSTREAM.OVERLOADED` and `Retry-After`, never forwarded; the ones
 * admitted keep the latency they would have had, instead of everyone waiting behind a queue that only grows
 * (an overloaded stack used to answer everything, after 37 s). A request counts from admission until its
 * response is closed (sent, or the client went away), whatever answered it: the upstream, or the gateway
 * itself (401, 429, 502, 504). It sits before authentication and rate limits, so a shed request costs no
 * Redis round trip and none of the client's budget: the client retries it with its Idempotency-Key.
 *
 * The count is per process: with GATEWAY_WORKERS > 1 each worker admits up to its limit on its own. With a
 * latency target the limit of each lane follows the upstream's latency (AdaptiveLimit).
 */
export function shedOverload(deps: AdmissionDeps): RequestHandler {
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
  for (const service of SERVICES) for (const lane of LANES) deps.metrics.upstreamInFlight.set({ service, lane }, 0);
  const limited = deps.maxInFlight > 0;
  // One answer for every shed request (an AppError is immutable): no Error, and its stack, made per shed request.
  const overloaded = gatewayErrors.upstreamOverloaded();
  return (req, res, next) => {
    const service = serviceFor(req.path);
    if (!service) return next();
    const lane = laneOf(req);
    const counts = inFlight[service];
    const limit = limits[service][lane];
    if (limited && counts[lane] >= (adaptive ? limit.current : deps.maxInFlight)) {
      deps.metrics.upstreamShed.inc({ service, lane });
      return sendProblem(res, overloaded);
    }
    counts[lane] += 1;
    deps.metrics.upstreamInFlight.inc({ service, lane });
    const admittedAt = performance.now();
    res.once('close', () => {
      counts[lane] -= 1;
      deps.metrics.upstreamInFlight.dec({ service, lane });
      if (adaptive) limit.answered(performance.now() - admittedAt, Date.now(), counts[lane]);
    });
    next();
  };
}
