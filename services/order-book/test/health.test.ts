import request from 'supertest';
import { createApp } from '../src/app';
import { createHarness, type Harness } from './harness';

describe('order-book service frame', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await createHarness();
  });

  afterAll(() => harness.close());

  it('when /health is asked, then database, Redis and queue checks are ok', async () => {
    const res = await request(createApp(harness)).get('/health');
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ok');
    expect(Object.keys(res.body.checks).sort()).toEqual(['database', 'queue', 'redis']);
  });

  it('when /metrics is scraped, then pool metrics are there', async () => {
    const res = await request(createApp(harness)).get('/metrics');
    expect(res.text).toContain('db_pool_connections{database="order-book"');
  });

  it('when /openapi.json is asked, then the service document answers', async () => {
    const res = await request(createApp(harness)).get('/openapi.json');
    expect(res.body.openapi).toMatch(/^3\./);
  });
});
