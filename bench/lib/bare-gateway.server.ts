/**
 * One process of the bare gateway, the yardstick of DESIGN.md's Targets: `upstream PORT` is an express app whose
 * only handler answers a small JSON; `proxy PORT UPSTREAM_PORT` is express with http-proxy-middleware in front of
 * it over a keep-alive agent. Nothing else: no auth, no limits, no logging. The gateway's own express and
 * http-proxy-middleware are loaded, so the yardstick moves with the versions the real gateway runs.
 */
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';

/** As the real services and gateway set it (packages/http lifecycle): longer than any client's idle socket. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** Keep-alive sockets to the upstream, as the real gateway's UPSTREAM_MAX_SOCKETS default. */
const UPSTREAM_SOCKETS_MAX = 128;

const gatewayRequire = createRequire(path.join(__dirname, '../../services/gateway/package.json'));
// Loaded at run time from the gateway's dependencies; bench/ has no types for them.
const express = gatewayRequire('express') as () => {
  use(handler: unknown): void;
  listen(port: number, host: string, ready: () => void): http.Server;
};
const { createProxyMiddleware } = gatewayRequire('http-proxy-middleware') as {
  createProxyMiddleware(options: Record<string, unknown>): unknown;
};

const [role, port, upstreamPort] = process.argv.slice(2);
const app = express();
if (role === 'upstream') {
  app.use((_req: unknown, res: { json(body: unknown): void }) => res.json({ ok: true, id: 'bare' }));
} else if (role === 'proxy') {
  const agent = new http.Agent({
    keepAlive: true,
    maxSockets: UPSTREAM_SOCKETS_MAX,
    maxFreeSockets: UPSTREAM_SOCKETS_MAX,
  });
  app.use(createProxyMiddleware({ target: `http://127.0.0.1:${upstreamPort}`, agent, changeOrigin: true }));
} else {
  throw new Error(`usage: bare-gateway.server.ts upstream PORT | proxy PORT UPSTREAM_PORT (got ${role})`);
}
const server = app.listen(Number(port), '127.0.0.1', () => console.log(`bare ${role} listening on ${port}`));
server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1000;
process.on('SIGTERM', () => process.exit(0));
