import http from 'node:http';
import type { Logger } from '@orrange/logger';
import type { GatewayMetrics } from '../observability/metrics';
import { requestJson } from './http-json';
import { SERVICES, type ServiceName } from './routes';

/** What the last active probe said: `ok` (200), `unhealthy` (answered, but not 200), `unreachable`. */
export type ProbeState = 'unknown' | 'ok' | 'unhealthy' | 'unreachable';

export interface Upstream {
  service: ServiceName;
  /** Position in the configured list; labels metrics without exposing addresses. */
  index: number;
  url: string;
  /**
   * Keep-alive sockets in three lanes, so that no kind of traffic queues behind another: `write` for
   * requests that change something (slow under load: they wait for market locks), `read` for GET/HEAD
   * (served from caches, must stay fast then), `control` for the gateway's own calls (health probes,
   * OpenAPI, API-key resolution), which must answer even when both request lanes are full.
   */
  agents: Record<'write' | 'read' | 'control', http.Agent>;
  probe: ProbeState;
  /** A connection error keeps the upstream out of rotation until this time (ms since epoch). */
  ejectedUntil: number;
}

/**
 * Idle keep-alive sockets are closed by us before the service's server closes them (its keepAliveTimeout is
 * 65 s, see runService), so a request is never written into a socket the other side is closing.
 */
const IDLE_SOCKET_TIMEOUT_MS = 30_000;

/** Sockets per upstream for the gateway's own calls (probes, OpenAPI, API keys; the last are cached). */
const CONTROL_SOCKETS_MAX = 16;

/**
 * Idle sockets are kept up to the lane's maximum: closing them when a burst ends only means opening them
 * again (a TCP handshake per request) at the next one.
 */
function keepAliveAgent(maxSockets: number): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, timeout: IDLE_SOCKET_TIMEOUT_MS });
}

export interface UpstreamSettings {
  maxSockets: number;
  probeIntervalMs: number;
  probeTimeoutMs: number;
  ejectMs: number;
}

/**
 * The replicas of one service. `pick` balances round-robin over the ones in rotation, preferring those
 * whose /health said 200 over those that answered otherwise (a replica whose database is down still
 * answers, but should get traffic only when nothing better exists). Unreachable or recently failed
 * replicas are out; when none is left, `pick` returns undefined and the gateway answers 503.
 */
export class UpstreamPool {
  readonly upstreams: Upstream[];
  private next = 0;

  constructor(
    readonly service: ServiceName,
    urls: string[],
    private readonly settings: UpstreamSettings,
    private readonly metrics?: GatewayMetrics,
  ) {
    this.upstreams = urls.map((url, index) => ({
      service,
      index,
      url: url.replace(/\/+$/, ''),
      agents: {
        write: keepAliveAgent(settings.maxSockets),
        read: keepAliveAgent(settings.maxSockets),
        control: keepAliveAgent(CONTROL_SOCKETS_MAX),
      },
      probe: 'unknown',
      ejectedUntil: 0,
    }));
    for (const upstream of this.upstreams) this.report(upstream);
  }

  pick(now = Date.now(), exclude?: ReadonlySet<Upstream>): Upstream | undefined {
    const live = this.upstreams.filter((u) => u.ejectedUntil <= now && u.probe !== 'unreachable' && !exclude?.has(u));
    const preferred = live.filter((u) => u.probe === 'ok' || u.probe === 'unknown');
    const candidates = preferred.length ? preferred : live;
    if (!candidates.length) return undefined;
    this.next = (this.next + 1) % Number.MAX_SAFE_INTEGER;
    return candidates[this.next % candidates.length];
  }

  /** Passive check: the proxy could not connect, so take the replica out for a while. */
  markConnectionError(upstream: Upstream, now = Date.now()): void {
    upstream.ejectedUntil = now + this.settings.ejectMs;
    this.report(upstream);
  }

  async probeAll(): Promise<void> {
    await Promise.all(this.upstreams.map((upstream) => this.probe(upstream)));
  }

  private async probe(upstream: Upstream): Promise<void> {
    try {
      const res = await requestJson(`${upstream.url}/health`, {
        agent: upstream.agents.control,
        timeoutMs: this.settings.probeTimeoutMs,
      });
      upstream.probe = res.status === 200 ? 'ok' : 'unhealthy';
      upstream.ejectedUntil = 0;
    } catch {
      upstream.probe = 'unreachable';
    }
    this.report(upstream);
  }

  private report(upstream: Upstream): void {
    const inRotation = upstream.probe !== 'unreachable' && upstream.ejectedUntil <= Date.now();
    this.metrics?.upstreamHealthy.set({ service: this.service, upstream: String(upstream.index) }, inRotation ? 1 : 0);
  }

  close(): void {
    for (const upstream of this.upstreams) for (const agent of Object.values(upstream.agents)) agent.destroy();
  }
}

export type UpstreamUrls = Record<ServiceName, string[]>;

/** Every service's pool plus the timer that probes them all; `start` begins probing, `close` stops it. */
export class Upstreams {
  readonly pools: Record<ServiceName, UpstreamPool>;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    urls: UpstreamUrls,
    private readonly settings: UpstreamSettings,
    private readonly logger?: Logger,
    metrics?: GatewayMetrics,
  ) {
    this.pools = Object.fromEntries(
      SERVICES.map((service) => [service, new UpstreamPool(service, urls[service], settings, metrics)]),
    ) as Record<ServiceName, UpstreamPool>;
  }

  probeAll(): Promise<void> {
    return Promise.all(SERVICES.map((service) => this.pools[service].probeAll())).then(() => undefined);
  }

  start(): void {
    if (this.timer || this.settings.probeIntervalMs <= 0) return;
    void this.probeAll();
    this.timer = setInterval(() => {
      this.probeAll().catch((error: unknown) =>
        this.logger?.warn('upstream probe failed', { error: (error as Error).message }),
      );
    }, this.settings.probeIntervalMs);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const service of SERVICES) this.pools[service].close();
  }
}
