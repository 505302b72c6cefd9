import { openApiDocument, operation, PAGE_PARAMS, schemaOf } from '@orrange/http';
import { z } from 'zod';
import {
  apiKeyBody,
  apiKeySchema,
  auditEntrySchema,
  createdApiKeySchema,
  loginBody,
  meSchema,
  paymentMethodBody,
  paymentMethodSchema,
  profileBody,
  profileSchema,
  publicProfileSchema,
  refreshBody,
  registerBody,
  resolveKeyBody,
  rolesBody,
  sessionSchema,
  statusBody,
  tokensSchema,
} from './schemas';

const idParam = (description: string) => [{ name: 'id', in: 'path' as const, description }];
const list = (item: z.ZodType) => schemaOf(z.object({ data: z.array(item), nextCursor: z.string().nullable() }));
const auth = { 401: { description: 'Not signed in' } };
const session = { ...auth, 403: { description: 'Needs a signed-in session (not an API key)' } };
const invalid = { 400: { description: 'Invalid body (VALIDATION.FAILED); unknown fields are rejected' } };

/** The user service's part of the public API; the gateway merges it into /docs/openapi.json. */
export const openapi = openApiDocument('Orrange user service', {
  '/api/v1/auth/register': {
    post: operation({
      summary: 'Create an account and sign in',
      tags: ['Auth'],
      body: registerBody,
      responses: {
        201: { description: 'Signed in', schema: schemaOf(sessionSchema) },
        ...invalid,
        409: { description: 'USER.ALREADY_EXISTS (email, case-insensitively, or username)' },
        503: { description: 'SERVICE.BUSY: too many password hashes waiting' },
      },
    }),
  },
  '/api/v1/auth/login': {
    post: operation({
      summary: 'Sign in with email and password',
      tags: ['Auth'],
      body: loginBody,
      responses: {
        200: { description: 'Signed in', schema: schemaOf(sessionSchema) },
        ...invalid,
        401: { description: 'AUTH.INVALID_CREDENTIALS (unknown email, wrong password or disabled account alike)' },
        503: { description: 'SERVICE.BUSY' },
      },
    }),
  },
  '/api/v1/auth/refresh': {
    post: operation({
      summary: 'Rotate a refresh token',
      tags: ['Auth'],
      body: refreshBody,
      responses: {
        200: {
          description: 'New access and refresh tokens; the old refresh token is spent',
          schema: schemaOf(tokensSchema),
        },
        ...invalid,
        401: { description: 'AUTH.INVALID_REFRESH_TOKEN; reusing a rotated token also revokes its whole family' },
      },
    }),
  },
  '/api/v1/auth/logout': {
    post: operation({
      summary: 'End the session of a refresh token (its whole family)',
      tags: ['Auth'],
      body: refreshBody,
      responses: { 204: { description: 'Signed out (also for unknown tokens)' }, ...invalid },
    }),
  },
  '/api/v1/users/me': {
    get: operation({
      summary: 'My account, profile and reputation',
      tags: ['Users'],
      auth: true,
      responses: { 200: { description: 'Me', schema: schemaOf(meSchema) }, ...auth },
    }),
  },
  '/api/v1/users/me/profile': {
    patch: operation({
      summary: 'Update my profile (null clears a field)',
      tags: ['Users'],
      auth: true,
      body: profileBody,
      responses: { 200: { description: 'The profile', schema: schemaOf(profileSchema) }, ...invalid, ...auth },
    }),
  },
  '/api/v1/users/me/api-keys': {
    post: operation({
      summary:
        'Create an API key (shown once). Scopes: read (GETs), trade (everything that creates or moves something), withdraw (withdrawals, only beside trade). An API key never acts with admin or arbitrator powers',
      tags: ['API keys'],
      auth: 'session',
      body: apiKeyBody,
      responses: {
        201: { description: 'The key, this one time', schema: schemaOf(createdApiKeySchema) },
        ...invalid,
        ...session,
        409: { description: 'API_KEY.LIMIT_REACHED' },
      },
    }),
    get: operation({
      summary: 'My live API keys (metadata only)',
      tags: ['API keys'],
      auth: 'session',
      responses: { 200: { description: 'Keys', schema: list(apiKeySchema) }, ...session },
    }),
  },
  '/api/v1/users/me/api-keys/{id}': {
    delete: operation({
      summary: 'Revoke one of my API keys (effective at once)',
      tags: ['API keys'],
      auth: 'session',
      params: idParam('API key id'),
      responses: {
        204: { description: 'Revoked' },
        ...session,
        404: { description: "API_KEY.NOT_FOUND (also another user's key)" },
      },
    }),
  },
  '/api/v1/users/me/payment-methods': {
    post: operation({
      summary: 'Add a payment method; details are encrypted at rest (AES-256-GCM)',
      tags: ['Payment methods'],
      auth: 'session',
      body: paymentMethodBody,
      responses: {
        201: { description: 'Added', schema: schemaOf(paymentMethodSchema) },
        ...invalid,
        ...session,
        409: { description: 'PAYMENT_METHOD.LIMIT_REACHED' },
      },
    }),
    get: operation({
      summary: 'My payment methods, decrypted',
      tags: ['Payment methods'],
      auth: 'session',
      responses: { 200: { description: 'Payment methods', schema: list(paymentMethodSchema) }, ...session },
    }),
  },
  '/api/v1/users/me/payment-methods/{id}': {
    delete: operation({
      summary: 'Delete one of my payment methods',
      tags: ['Payment methods'],
      auth: 'session',
      params: idParam('Payment method id'),
      responses: { 204: { description: 'Deleted' }, ...session, 404: { description: 'PAYMENT_METHOD.NOT_FOUND' } },
    }),
  },
  '/api/v1/users/{id}': {
    get: operation({
      summary: 'A public profile with reputation (no email)',
      tags: ['Users'],
      params: idParam('User id'),
      responses: {
        200: { description: 'Public profile', schema: schemaOf(publicProfileSchema) },
        404: { description: 'USER.NOT_FOUND (also for ids that are not UUIDs)' },
      },
    }),
  },
  '/api/v1/admin/users/{id}/roles': {
    patch: operation({
      summary: 'Admin: set a user\'s roles ("user" is always kept); older access tokens stop working',
      tags: ['Admin'],
      auth: 'session',
      params: idParam('User id'),
      body: rolesBody,
      responses: {
        200: {
          description: 'The roles now',
          schema: schemaOf(z.object({ id: z.string(), roles: z.array(z.string()) })),
        },
        ...invalid,
        ...auth,
        403: { description: 'Not an admin' },
        404: { description: 'USER.NOT_FOUND' },
      },
    }),
  },
  '/api/v1/admin/users/{id}/status': {
    patch: operation({
      summary: 'Admin: disable or re-enable an account; disabling ends its sessions and API keys at once',
      tags: ['Admin'],
      auth: 'session',
      params: idParam('User id'),
      body: statusBody,
      responses: {
        200: {
          description: 'The status now',
          schema: schemaOf(z.object({ id: z.string(), status: z.enum(['ACTIVE', 'DISABLED']) })),
        },
        ...invalid,
        ...auth,
        403: { description: 'Not an admin' },
        404: { description: 'USER.NOT_FOUND' },
      },
    }),
  },
  '/api/v1/admin/audit': {
    get: operation({
      summary: 'Admin: the audit log, newest first (also at /api/v1/admin/users/audit)',
      tags: ['Admin'],
      auth: 'session',
      params: PAGE_PARAMS,
      responses: {
        200: { description: 'Entries', schema: list(auditEntrySchema) },
        ...auth,
        403: { description: 'Not an admin' },
      },
    }),
  },
  '/internal/api-keys/resolve': {
    post: operation({
      summary: 'Internal (gateway only): resolve an API key hash',
      tags: ['Internal'],
      auth: 'service',
      body: resolveKeyBody,
      responses: {
        200: {
          description: "The key's owner, roles and scopes",
          schema: schemaOf(z.object({ userId: z.string(), roles: z.array(z.string()), scopes: z.array(z.string()) })),
        },
        403: { description: 'Not a service identity' },
        404: { description: 'Unknown, revoked, or the owner is disabled' },
      },
    }),
  },
});
