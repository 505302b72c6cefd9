import { z } from 'zod';
import { pageQuery } from './pagination';

type Json = Record<string, unknown>;

/** JSON Schema (OpenAPI 3.0 dialect) of a zod schema, so request documentation comes from the validators. */
export function schemaOf(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  delete json.$schema;
  return json;
}

/** Query parameters documented from the same zod schema that validates them. */
export function queryParamsOf(
  schema: z.ZodType,
): Array<{ name: string; in: 'query'; required: boolean; schema: Json }> {
  const json = schemaOf(schema) as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, s]) => ({
    name,
    in: 'query' as const,
    required: json.required?.includes(name) ?? false,
    schema: s,
  }));
}

/** A list's `limit` and `cursor` (API.md, "Pagination"), for a list without filters of its own. */
export const PAGE_PARAMS = queryParamsOf(pageQuery);

/** A list's answer: `{ data: [items], nextCursor }`. */
export function pageSchema(items: Json): Json {
  return {
    type: 'object',
    required: ['data', 'nextCursor'],
    properties: { data: { type: 'array', items }, nextCursor: { type: 'string', nullable: true } },
  };
}

export const problemSchema = {
  type: 'object',
  required: ['type', 'title', 'status', 'code'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string' },
    requestId: { type: 'string' },
    errors: {
      type: 'array',
      items: {
        type: 'object',
        required: ['path', 'message'],
        properties: { path: { type: 'string' }, message: { type: 'string' } },
      },
    },
  },
};

/**
 * Every tag of the API, spelled once, in the order the docs page lists them: the services' documents and the
 * gateway's merged one take their names and descriptions from here, so no two spellings of one group appear.
 */
export const API_TAGS = [
  { name: 'Auth', description: 'Accounts, sign-in, token refresh and sign-out' },
  { name: 'Users', description: 'Your profile and public profiles with reputation' },
  { name: 'API keys', description: 'Keys for bots, with scopes (read, trade, withdraw)' },
  { name: 'Payment methods', description: 'Your saved payment details, encrypted at rest' },
  { name: 'Markets', description: 'Markets and their rules' },
  { name: 'Orders', description: 'Ads and orders: place, take, edit, pause, cancel; the order book' },
  { name: 'Trades', description: 'Trades from match to release, their chat and feedback' },
  { name: 'Wallet', description: 'Balances, deposits, withdrawals and the ledger' },
  { name: 'Disputes', description: 'Disputes, evidence and arbitration' },
  { name: 'Statistics', description: 'Market and platform statistics' },
  { name: 'Custody', description: 'Webhooks from the custody provider' },
  { name: 'Admin', description: 'Administration (admins in a session)' },
  { name: 'Gateway', description: 'Health, metrics, documentation and live updates (Server-Sent Events)' },
  { name: 'Internal', description: 'Service to service, through the gateway only (never in the public document)' },
] as const;

export type ApiTag = (typeof API_TAGS)[number]['name'];

/** The document's `tags`: those its operations use, in API_TAGS' order, then any other name as it is. */
export function tagsOf(paths: Json): Array<{ name: string; description?: string }> {
  const used = new Set<string>();
  for (const item of Object.values(paths))
    for (const op of Object.values(item as Json))
      for (const tag of ((op as Json).tags as string[] | undefined) ?? []) used.add(tag);
  const known: Array<{ name: string; description?: string }> = API_TAGS.filter((tag) => used.has(tag.name));
  const other = [...used].filter((name) => !API_TAGS.some((tag) => tag.name === name)).map((name) => ({ name }));
  return [...known, ...other];
}

export interface Operation {
  summary: string;
  tags?: ApiTag[];
  /**
   * Who may call it, declared in the document as `security` on every operation: absent or false, anyone (`[]`);
   * `'session'`, a signed-in user's bearer token only (admin and arbitrator powers, API keys, payment details);
   * true, a bearer token or an API key (with the scope the method needs); `'service'`, the gateway only (its signed
   * identity header: /internal/* operations, which the public document leaves out); `'custodySignature'`, custody's
   * webhooks, authenticated by the signature of their body.
   */
  auth?: boolean | 'session' | 'service' | 'custodySignature';
  params?: Array<{
    name: string;
    in: 'path' | 'query' | 'header';
    required?: boolean;
    schema?: Json;
    description?: string;
  }>;
  body?: z.ZodType;
  responses: Record<number, { description: string; schema?: Json }>;
}

function securityOf(auth: NonNullable<Operation['auth']>): Json[] {
  if (auth === 'session') return [{ bearerAuth: [] }];
  if (auth === 'service') return [{ internalIdentity: [] }];
  if (auth === 'custodySignature') return [{ custodySignature: [] }];
  return auth ? [{ bearerAuth: [] }, { apiKey: [] }] : [];
}

/** Builds one OpenAPI path item entry; error responses share the problem+json schema. */
export function operation(op: Operation): Json {
  const responses: Json = {};
  for (const [status, r] of Object.entries(op.responses)) {
    const isError = Number(status) >= 400;
    responses[status] = {
      description: r.description,
      ...(isError
        ? { content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } }
        : r.schema
          ? { content: { 'application/json': { schema: r.schema } } }
          : {}),
    };
  }
  return {
    summary: op.summary,
    ...(op.tags ? { tags: op.tags } : {}),
    security: securityOf(op.auth ?? false),
    ...(op.params
      ? {
          parameters: op.params.map((p) => ({
            ...p,
            required: p.in === 'path' ? true : (p.required ?? false),
            schema: p.schema ?? { type: 'string' },
          })),
        }
      : {}),
    ...(op.body
      ? { requestBody: { required: true, content: { 'application/json': { schema: schemaOf(op.body) } } } }
      : {}),
    responses,
  };
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

/** `POST /api/v1/trades/{id}/paid` → `postTradesIdPaid`: unique per method and path, stable while they are. */
export function operationIdOf(method: string, path: string): string {
  const words = path
    .replace(/^\/api\/v\d+/, '')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean);
  return method.toLowerCase() + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}

/** Every operation of `paths` with its operationId (clients generate method names from them). */
function withOperationIds(paths: Json): Json {
  return Object.fromEntries(
    Object.entries(paths).map(([path, item]) => [
      path,
      Object.fromEntries(
        Object.entries(item as Json).map(([method, op]) => [
          method,
          HTTP_METHODS.includes(method) ? { operationId: operationIdOf(method, path), ...(op as Json) } : op,
        ]),
      ),
    ]),
  );
}

/** The gateway's signed identity header, which /internal/* operations require (and the public document leaves out). */
const INTERNAL_IDENTITY_SCHEME = {
  type: 'apiKey',
  in: 'header',
  name: 'X-Orrange-Identity',
  description:
    'The identity the gateway signs with INTERNAL_TOKEN_SECRET: /internal/* operations answer the gateway only.',
};

/** Custody's webhook signature (API.md, "Money in and out"), which the webhook operation requires. */
export const CUSTODY_SIGNATURE_SCHEME = {
  type: 'apiKey',
  in: 'header',
  name: 'X-Orrange-Signature',
  description:
    't=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>"> with CUSTODY_WEBHOOK_SECRET; at most 5 minutes old.',
};

const usesScheme = (paths: Json, scheme: string) =>
  Object.values(paths).some((item) =>
    Object.values(item as Json).some((op) =>
      ((op as Json).security as Json[] | undefined)?.some((requirement) => scheme in requirement),
    ),
  );

/** A service's document; the gateway merges every service's `paths` and `components.schemas`. */
export function openApiDocument(title: string, paths: Json, schemas: Json = {}): Json {
  return {
    openapi: '3.0.3',
    info: { title, version: '1.0.0' },
    servers: [{ url: '/' }],
    tags: tagsOf(paths),
    paths: withOperationIds(paths),
    components: {
      schemas: { Problem: problemSchema, ...schemas },
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        ...(usesScheme(paths, 'internalIdentity') ? { internalIdentity: INTERNAL_IDENTITY_SCHEME } : {}),
        ...(usesScheme(paths, 'custodySignature') ? { custodySignature: CUSTODY_SIGNATURE_SCHEME } : {}),
      },
    },
  };
}
