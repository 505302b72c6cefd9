import request from 'supertest';
import { createHarness, type Harness } from './harness';

describe('OpenAPI document', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await createHarness();
  });

  afterAll(() => harness.close());

  it('when /openapi.json is read, then every route of the service is described with its methods', async () => {
    const res = await request(harness.app()).get('/openapi.json');
    const methods = Object.fromEntries(
      Object.entries(res.body.paths as Record<string, object>).map(([path, item]) => [path, Object.keys(item).sort()]),
    );
    expect(methods).toEqual({
      '/api/v1/auth/register': ['post'],
      '/api/v1/auth/login': ['post'],
      '/api/v1/auth/refresh': ['post'],
      '/api/v1/auth/logout': ['post'],
      '/api/v1/users/me': ['get'],
      '/api/v1/users/me/profile': ['patch'],
      '/api/v1/users/me/api-keys': ['get', 'post'],
      '/api/v1/users/me/api-keys/{id}': ['delete'],
      '/api/v1/users/me/payment-methods': ['get', 'post'],
      '/api/v1/users/me/payment-methods/{id}': ['delete'],
      '/api/v1/users/{id}': ['get'],
      '/api/v1/admin/users/{id}/roles': ['patch'],
      '/api/v1/admin/users/{id}/status': ['patch'],
      '/api/v1/admin/audit': ['get'],
      '/internal/api-keys/resolve': ['post'],
    });
    expect(
      res.body.paths['/api/v1/auth/register'].post.requestBody.content['application/json'].schema.additionalProperties,
    ).toBe(false);
  });
});
