import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import type { Registry } from 'prom-client';
import { IDENTITY_HEADER, parseKeyring, REVOCATION_SETTLE_MS, signAccessToken, type Role } from '@orrange/http';
import { createLogger } from '@orrange/logger';
import { createTestRedis, type TestRedis } from '@orrange/testing';
import { Registry as PromRegistry } from 'prom-client';
import { createApp } from '../src/app';
import { readConfig, type Config } from '../src/config';
import { createGateway, type Gateway } from '../src/composition';
import type { ServiceName } from '../src/proxy/routes';

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A small real HTTP server standing in for one replica of a service; it records what reaches it. */
export interface StubUpstream {
  name: string;
  url: string;
  app: Express;
  seen: SeenRequest[];
  close(): Promise<void>;
}

/**
 * Starts a stub: `/health` answers ok, `/openapi.json` a one-path document, and every other request is
 * recorded and echoed back as `{ upstream, method, url, identity }`. `configure` adds routes that take precedence.
 */
export async function startStub(name: string, configure?: (app: Express) => void): Promise<StubUpstream> {
  const app = express();
  const seen: SeenRequest[] = [];
  configure?.(app);
  app.get('/health', (_req, res) => res.json({ status: 'ok', checks: { database: { status: 'ok', latencyMs: 1 } } }));
  app.get('/openapi.json', (_req, res) =>
    res.json({
      openapi: '3.0.3',
      info: { title: name, version: '1.0.0' },
      tags: [{ name }],
      paths: {
        [`/api/v1/${name}-thing`]: {
          get: { tags: [name], summary: `a ${name} thing`, responses: { 200: { description: 'ok' } } },
        },
        [`/internal/${name}-secret`]: { post: { tags: ['internal'], responses: { 200: { description: 'ok' } } } },
      },
      components: { schemas: { [`${name}Thing`]: { type: 'object' } } },
    }),
  );
  app.use((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      seen.push({
        method: req.method,
        url: req.originalUrl,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res.json({
        upstream: name,
        method: req.method,
        url: req.originalUrl,
        identity: req.headers[IDENTITY_HEADER] ?? null,
      });
    });
  });
  const { url, close } = await listen(app);
  return { name, url, app, seen, close };
}

/** An app served on a free loopback port, as a client reaches it. */
export interface Listening {
  server: http.Server;
  port: number;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Stops listening and ends the connections still open (held streams, keep-alive sockets). */
  close(): Promise<void>;
}

export async function listen(app: http.RequestListener): Promise<Listening> {
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** An address where nothing listens: a port taken from the OS and released again. */
export async function closedUrl(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

export interface TestGateway {
  app: http.RequestListener;
  config: Config;
  /** The gateway the app runs over (its connections, caches and pools). */
  resources: Gateway;
  registry: Registry;
  close(): Promise<void>;
}

export type UpstreamUrlEnv = Partial<Record<ServiceName, string[]>>;

/** A gateway app over the given upstreams and the test's Redis prefix; probing is off unless asked. */
export function createTestGateway(
  testRedis: TestRedis,
  upstreams: UpstreamUrlEnv,
  env: NodeJS.ProcessEnv = {},
): TestGateway {
  const list = (service: ServiceName) => (upstreams[service] ?? ['http://127.0.0.1:9']).join(',');
  const config = readConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    REDIS_URL: testRedis.url,
    REDIS_PREFIX: testRedis.prefix,
    USER_SERVICE_URLS: list('user'),
    ORDER_BOOK_SERVICE_URLS: list('order-book'),
    TRADE_SERVICE_URLS: list('trade-execution'),
    DISPUTE_SERVICE_URLS: list('dispute'),
    UPSTREAM_PROBE_INTERVAL_MS: '0',
    ...env,
  });
  const registry = new PromRegistry();
  const resources = createGateway(config, { logger: createLogger('gateway', 'silent'), registry });
  return { app: createApp(resources), config, resources, registry, close: () => resources.close() };
}

/** An access token as the user service would sign it, with the gateway's keyring and claims; a session of its own unless given. */
export function accessToken(
  config: Config,
  userId: string,
  roles: Role[] = ['user'],
  session: { sessionId?: string; generation?: number } = {},
): string {
  const keyring = parseKeyring(config.JWT_SECRETS, config.JWT_ACTIVE_KID);
  const subject = { userId, roles, sessionId: session.sessionId ?? randomUUID(), generation: session.generation ?? 0 };
  return signAccessToken(subject, {
    keyring,
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    ttlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
  }).token;
}

/**
 * What the user service waits after writing a revocation before it answers (REVOCATION_SETTLE_MS): tests that write
 * revocation records themselves wait as long before they expect every gateway to refuse the tokens.
 */
export function revocationSettled(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, REVOCATION_SETTLE_MS));
}

export { createTestRedis, type TestRedis };
