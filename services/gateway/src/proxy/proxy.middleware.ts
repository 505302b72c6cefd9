import type { Agent, ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import {
  createProxyMiddleware,
  debugProxyErrorsPlugin,
  fixRequestBody,
  proxyEventsPlugin,
} from 'http-proxy-middleware';
import { sendProblem, type AppError } from '@orrange/http';
import type { Logger } from '@orrange/logger';
import { gatewayErrors } from '../errors';
import { countStreamedBody } from '../limits/body-size.middleware';
import type { GatewayMetrics } from '../observability/metrics';
import { laneOf } from './admission';
import { serviceFor, SERVICES, type ServiceName } from './routes';
import type { Upstream, Upstreams } from './upstream-pool';

export interface ProxyDeps {
  upstreams: Upstreams;
  timeoutMs: number;
  bodyLimitBytes: number;
  metrics: GatewayMetrics;
  logger: Logger;
}

/** Connection-level failures: the replica is not there, so it leaves rotation for a while. */
const CONNECTION_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * Forwards `/api/v1/...` requests unchanged to a healthy replica of the owning service, one keep-alive
 * proxy per replica. Paths no service owns fall through to the 404 handler. Upstream answers (problem+json
 * included) pass through untouched; the gateway's own failures become 502/503/504 problems that name no
 * address, port or error text of the upstream.
 */
export function proxyToServices(deps: ProxyDeps): RequestHandler {
  const proxies = new Map<Upstream, RequestHandler>();
  /** Sends the request to a replica not tried yet; false when none is left. */
  const attempt = (
    req: Request,
    res: Response,
    next: NextFunction,
    service: ServiceName,
    tried: Set<Upstream>,
  ): boolean => {
    const upstream = deps.upstreams.pools[service].pick(Date.now(), tried);
    if (!upstream) return false;
    tried.add(upstream);
    res.locals[RETRY] = () => isIdempotentWithoutBody(req) && attempt(req, res, next, service, tried);
    proxies.get(upstream)!(req, res, next);
    return true;
  };
  for (const service of SERVICES) {
    for (const upstream of deps.upstreams.pools[service].upstreams) {
      const [read, write] = [
        proxyFor(upstream, upstream.agents.read, deps),
        proxyFor(upstream, upstream.agents.write, deps),
      ];
      proxies.set(upstream, (req, res, next) => (laneOf(req) === 'read' ? read : write)(req, res, next));
    }
  }
  return (req, res, next) => {
    const service = serviceFor(req.path);
    if (!service) return next();
    setForwardedHeaders(req);
    if (attempt(req, res, next, service, new Set())) return;
    deps.metrics.upstreamErrors.inc({ service, kind: 'no-healthy-upstream' });
    next(gatewayErrors.noHealthyUpstream());
  };
}

/** Key in res.locals of the function that retries a request on another replica after a connection failure. */
const RETRY = 'retryOnAnotherUpstream';

/**
 * The `x-forwarded-*` headers, written on the incoming request before the proxy copies its headers: the
 * service sees the one client address the gateway settled on (trust proxy), not a client-written chain; port,
 * proto and host as http-proxy's xfwd writes them. Setting them on the outgoing request instead (its 'socket'
 * event) throws once its headers were flushed, when the body was written before a socket was free.
 */
function setForwardedHeaders(req: Request): void {
  const socket = req.socket as Socket & { encrypted?: boolean };
  const clientIp = req.ip ?? socket.remoteAddress;
  if (clientIp) req.headers['x-forwarded-for'] = clientIp;
  else delete req.headers['x-forwarded-for'];
  const encrypted = socket.encrypted === true;
  const hostPort = /:(\d+)$/.exec(req.headers.host ?? '')?.[1];
  const append = (name: string, value: string) => {
    const current = req.headers[name];
    req.headers[name] = current ? `${String(current)},${value}` : value;
  };
  append('x-forwarded-port', hostPort ?? (encrypted ? '443' : '80'));
  append('x-forwarded-proto', encrypted ? 'https' : 'http');
  req.headers['x-forwarded-host'] = req.headers['x-forwarded-host'] || req.headers.host || '';
}

/** Only a GET/HEAD without a body may be sent again: nothing was consumed and nothing can happen twice. */
function isIdempotentWithoutBody(req: IncomingMessage): boolean {
  return (
    laneOf(req) === 'read' &&
    req.headers['content-length'] === undefined &&
    req.headers['transfer-encoding'] === undefined
  );
}

/** The proxy to one upstream over one of its socket lanes (see Upstream). */
function proxyFor(upstream: Upstream, agent: Agent, deps: ProxyDeps): RequestHandler {
  const pool = deps.upstreams.pools[upstream.service];
  const fail = (res: ServerResponse | Socket, error: AppError) => {
    if (!('setHeader' in res)) return res.destroy();
    if (res.headersSent) return res.destroy();
    sendProblem(res as Response, error);
  };
  const middleware = createProxyMiddleware({
    target: upstream.url,
    agent,
    changeOrigin: true,
    xfwd: false, // setForwardedHeaders wrote them
    // Our own error answers replace the default plain-text one; the other defaults stay.
    ejectPlugins: true,
    plugins: [debugProxyErrorsPlugin, proxyEventsPlugin],
    on: {
      proxyReq: (proxyReq: ClientRequest, req: IncomingMessage) => {
        proxyReq.setTimeout(deps.timeoutMs, () =>
          proxyReq.destroy(Object.assign(new Error('upstream timed out'), { code: 'UPSTREAM_TIMEOUT' })),
        );
        const parsed = req as IncomingMessage & { body?: unknown };
        if (parsed.body !== undefined && req.readableEnded) {
          // A body the gateway parsed (auth POSTs) is written again here; if the request already went out
          // without it (its socket came late), it cannot be completed: fail it rather than send it short.
          if (proxyReq.headersSent)
            return void proxyReq.destroy(new Error('request flushed before its body was restored'));
          fixRequestBody(proxyReq, parsed);
        }
        countStreamedBody(req, proxyReq, deps.bodyLimitBytes);
      },
      proxyRes: (proxyRes: IncomingMessage) => {
        delete proxyRes.headers['x-powered-by'];
      },
      error: (error: Error & { code?: string }, _req: IncomingMessage, res: ServerResponse | Socket) => {
        const service = upstream.service;
        if (error.code === 'BODY_TOO_LARGE') {
          if ('setHeader' in res && !res.headersSent) res.setHeader('Connection', 'close');
          return fail(res, gatewayErrors.bodyTooLarge());
        }
        if (error.code === 'UPSTREAM_TIMEOUT') {
          deps.metrics.upstreamErrors.inc({ service, kind: 'timeout' });
          return fail(res, gatewayErrors.upstreamTimeout());
        }
        deps.metrics.upstreamErrors.inc({ service, kind: 'unavailable' });
        deps.logger.warn('upstream request failed', { service, upstream: upstream.index, code: error.code });
        if (!(error.code && CONNECTION_ERRORS.has(error.code))) return fail(res, gatewayErrors.upstreamUnavailable());
        // The replica is not there: take it out, and send a request that may safely be repeated to another one.
        pool.markConnectionError(upstream);
        const response = 'setHeader' in res ? (res as Response) : undefined;
        const retry =
          response && !response.headersSent ? (response.locals[RETRY] as (() => boolean) | undefined) : undefined;
        if (retry?.()) return;
        fail(res, gatewayErrors.upstreamUnavailable());
      },
    },
  });
  return middleware as unknown as RequestHandler;
}
