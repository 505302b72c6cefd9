import { z } from 'zod';

/** JSON Schema (OpenAPI 3.0 dialect) of a zod schema, so request documentation comes from the validators. */
export function schemaOf(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  return json;
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
    errors: { type: 'array', items: { type: 'object', required: ['path', 'message'], properties: { path: { type: 'string' }, message: { type: 'string' } } } },
  },
};

type Json = Record<string, unknown>;

export interface Operation {
  summary: string;
  tags?: string[];
  auth?: boolean;
  params?: Array<{ name: string; in: 'path' | 'query' | 'header'; required?: boolean; schema?: Json; description?: string }>;
  body?: z.ZodType;
  responses: Record<number, { description: string; schema?: Json }>;
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
    ...(op.auth ? { security: [{ bearerAuth: [] }, { apiKey: [] }] } : {}),
    ...(op.params ? { parameters: op.params.map((p) => ({ ...p, required: p.in === 'path' ? true : (p.required ?? false), schema: p.schema ?? { type: 'string' } })) } : {}),
    ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: schemaOf(op.body) } } } } : {}),
    responses,
  };
}

/** A service's document; the gateway merges every service's `paths` and `components.schemas`. */
export function openApiDocument(title: string, paths: Json, schemas: Json = {}): Json {
  return {
    openapi: '3.0.3',
    info: { title, version: '1.0.0' },
    paths,
    components: {
      schemas: { Problem: problemSchema, ...schemas },
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      },
    },
  };
}
