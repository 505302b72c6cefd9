import request from 'supertest';
import { createHarness, type Harness } from './harness';

describe('trade-execution service frame', () => {
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

  it('when /metrics is scraped, then pool and business metrics are there', async () => {
    const res = await request(harness.app).get('/metrics');
    expect(res.text).toContain('db_pool_connections{database="trade-execution"');
    expect(res.text).toContain('trades_open{status="AWAITING_PAYMENT",service="trade-execution"} 0');
    expect(res.text).toContain('trade_volume_total');
  });

  it('when /openapi.json is asked, then the service document describes the wallet and trades', async () => {
    const res = await request(harness.app).get('/openapi.json');
    expect(res.body.openapi).toMatch(/^3\./);
    expect(Object.keys(res.body.paths)).toEqual(
      expect.arrayContaining(['/api/v1/wallet/balances', '/api/v1/trades/{id}/release', '/api/v1/admin/ledger/verify']),
    );
  });
});
