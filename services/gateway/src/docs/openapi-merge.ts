import { createHash } from 'node:crypto';
import type { Logger } from '@orrange/logger';
import { CUSTODY_SIGNATURE_SCHEME, operationIdOf, problemSchema, tagsOf } from '@orrange/http';
import { requestJson } from '../proxy/http-json';
import { SERVICES, type ServiceName } from '../proxy/routes';
import { STREAM_PATHS, STREAM_TICKET_SCHEME } from '../stream/stream.openapi';
import type { Upstreams } from '../proxy/upstream-pool';

type Json = Record<string, unknown>;

interface ServiceDocument {
  paths: Json;
  schemas: Json;
}

const PUBLIC_PATH_PREFIX = '/api/';

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Operators: OPERATOR_TOKEN as a bearer token. */
const OPERATOR = { operatorToken: [] };

/** The gateway's own operations, documented beside the services'. */
const GATEWAY_PATHS: Json = {
  '/health': {
    get: {
      operationId: operationIdOf('get', '/health'),
      tags: ['Gateway'],
      // Anyone (the statuses), or an operator (every check).
      security: [{}, OPERATOR],
      summary:
        'Health of every service and of the gateway: statuses for everyone (one shared report per HEALTH_CACHE_MS), every check for operators (OPERATOR_TOKEN as a bearer token)',
      responses: {
        200: { description: 'ok or degraded' },
        503: { description: 'a service or the gateway Redis is down' },
      },
    },
  },
  '/metrics': {
    get: {
      operationId: operationIdOf('get', '/metrics'),
      tags: ['Gateway'],
      security: [OPERATOR],
      summary: 'Prometheus metrics (operators: OPERATOR_TOKEN as a bearer token)',
      responses: {
        200: { description: 'Prometheus text exposition', content: { 'text/plain': {} } },
        401: { description: 'AUTH.OPERATOR_REQUIRED' },
      },
    },
  },
  '/docs': {
    get: {
      operationId: operationIdOf('get', '/docs'),
      tags: ['Gateway'],
      security: [],
      summary: 'Interactive API documentation',
      responses: { 200: { description: 'HTML', content: { 'text/html': {} } } },
    },
  },
  '/docs/openapi.json': {
    get: {
      operationId: operationIdOf('get', '/docs/openapi.json'),
      tags: ['Gateway'],
      security: [],
      summary: 'This document',
      responses: { 200: { description: 'OpenAPI 3.0.3' } },
    },
  },
};

function normalize(document: unknown): ServiceDocument | undefined {
  if (!isObject(document) || !isObject(document.paths)) return undefined;
  const components = isObject(document.components) ? document.components : {};
  // Only what the gateway routes is public: a service's /internal/* operations stay out of the document.
  const paths = Object.fromEntries(
    Object.entries(document.paths).filter(([path]) => path.startsWith(PUBLIC_PATH_PREFIX)),
  );
  return { paths, schemas: isObject(components.schemas) ? components.schemas : {} };
}

/** The docs page shows the description: it says which services' operations are missing right now. */
function descriptionOf(unavailable: ServiceName[]): string {
  const about = 'The public API of Orrange, served through the gateway.';
  return unavailable.length
    ? `${about}\n\n**Unavailable right now** (their operations are missing): ${unavailable.join(', ')}.`
    : about;
}

/**
 * One OpenAPI 3.0.3 document for the whole API: each service's `/openapi.json` fetched from a healthy
 * replica and kept for `cacheMs`, then `paths` and `components.schemas` merged with the gateway's own, and
 * `tags` listed from the operations (API_TAGS' names, order and descriptions). A service that cannot be
 * reached contributes its last good document, or nothing; the document names the missing services in
 * `x-unavailable-services` and in its description.
 */
export class OpenApiAggregator {
  private readonly cache = new Map<ServiceName, { document: ServiceDocument; fetchedAt: number }>();
  private lastSerialized:
    | { documents: Array<ServiceDocument | undefined>; bytes: { body: Buffer; etag: string } }
    | undefined;

  constructor(private readonly deps: { upstreams: Upstreams; timeoutMs: number; cacheMs: number; logger: Logger }) {}

  /**
   * The merged document as the bytes `/docs/openapi.json` sends, and their ETag: serialized again only when a
   * service's document changed (a refetch), not on every request: the document is the largest public answer,
   * and merging, serializing and hashing it (express's ETag) per request was work anyone could ask for at will.
   */
  async serialized(): Promise<{ body: Buffer; etag: string }> {
    const documents = await Promise.all(SERVICES.map((service) => this.serviceDocument(service)));
    const last = this.lastSerialized;
    if (last?.documents.every((document, i) => document === documents[i])) return last.bytes;
    const body = Buffer.from(JSON.stringify(this.merge(documents)));
    const bytes = { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
    this.lastSerialized = { documents, bytes };
    return bytes;
  }

  private merge(documents: Array<ServiceDocument | undefined>): Json {
    const paths: Json = {};
    const schemas: Json = { Problem: problemSchema };
    const unavailable: ServiceName[] = [];
    SERVICES.forEach((service, i) => {
      const document = documents[i];
      if (!document) return void unavailable.push(service);
      Object.assign(paths, document.paths);
      for (const [name, schema] of Object.entries(document.schemas)) if (!(name in schemas)) schemas[name] = schema;
    });
    Object.assign(paths, GATEWAY_PATHS, STREAM_PATHS);
    return {
      openapi: '3.0.3',
      info: { title: 'Orrange API', version: '1.0.0', description: descriptionOf(unavailable) },
      servers: [{ url: '/' }],
      tags: tagsOf(paths),
      paths,
      components: {
        schemas,
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
          operatorToken: {
            type: 'http',
            scheme: 'bearer',
            description: 'OPERATOR_TOKEN: /metrics, and every check of /health',
          },
          custodySignature: CUSTODY_SIGNATURE_SCHEME,
          streamTicket: STREAM_TICKET_SCHEME,
        },
      },
      'x-unavailable-services': unavailable,
    };
  }

  private async serviceDocument(service: ServiceName): Promise<ServiceDocument | undefined> {
    const cached = this.cache.get(service);
    if (cached && Date.now() - cached.fetchedAt < this.deps.cacheMs) return cached.document;
    const upstream = this.deps.upstreams.pools[service].pick();
    if (!upstream) return cached?.document;
    try {
      const res = await requestJson(`${upstream.url}/openapi.json`, {
        agent: upstream.agents.control,
        timeoutMs: this.deps.timeoutMs,
      });
      const document = res.status === 200 ? normalize(res.body) : undefined;
      if (!document) return cached?.document;
      this.cache.set(service, { document, fetchedAt: Date.now() });
      return document;
    } catch {
      this.deps.logger.warn('openapi document unavailable', { service });
      return cached?.document;
    }
  }
}
