import request from 'supertest';
import { createHarness, type Harness } from './harness';

describe('dispute service frame', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await createHarness();
  });

  afterAll(() => harness.close());

  it('when /health is asked, then database, Redis and queue checks are ok', async () => {
    const res = await request(harness.app).get('/health');
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ok');
    expect(Object.keys(res.body.checks).sort()).toEqual(['database', 'queue', 'redis']);
  });

  it('when /metrics is scraped, then pool metrics are there', async () => {
    const res = await request(harness.app).get('/metrics');
    expect(res.text).toContain('db_pool_connections{database="dispute"');
  });

  it('when /openapi.json is asked, then the service document answers', async () => {
    const res = await request(harness.app).get('/openapi.json');
    expect(res.body.openapi).toMatch(/^3\./);
    expect(Object.keys(res.body.paths).sort()).toEqual([
      '/api/v1/disputes',
      '/api/v1/disputes/{id}',
      '/api/v1/disputes/{id}/assign',
      '/api/v1/disputes/{id}/evidence',
      '/api/v1/disputes/{id}/export',
      '/api/v1/disputes/{id}/resolve',
    ]);
    expect(
      res.body.paths['/api/v1/disputes/{id}/resolve'].post.requestBody.content['application/json'].schema.properties,
    ).toHaveProperty('buyerAmount');
    expect(res.body.components.schemas).toHaveProperty('Dispute');
  });
});
