import { Registry } from 'prom-client';
import { createTestRedis, type TestRedis } from '@orrange/testing';
import { infoNumber, redisGauges } from '../src/redis-metrics';

describe('redisGauges (real Redis)', () => {
  let testRedis: TestRedis;

  beforeAll(async () => {
    testRedis = await createTestRedis();
  });

  afterAll(() => testRedis.cleanup());

  it('when /metrics is scraped, then Redis memory use, its limit and its client connections are there, as Redis reports them', async () => {
    const registry = new Registry();
    redisGauges(registry, testRedis.redis);
    const text = await registry.metrics();
    const value = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1]);
    expect(value('redis_memory_used_bytes')).toBeGreaterThan(0);
    expect(value('redis_memory_max_bytes')).toBeGreaterThanOrEqual(0);
    const clients = Number(/connected_clients:(\d+)/.exec(await testRedis.redis.info('clients'))![1]);
    expect(value('redis_connected_clients')).toBeGreaterThanOrEqual(1);
    expect(Math.abs(value('redis_connected_clients') - clients)).toBeLessThanOrEqual(5);
  });

  it('when an INFO field is read, then its number comes back, and nothing for a field that is not there', () => {
    expect(infoNumber('# Memory\r\nused_memory:1024\r\nused_memory_human:1.00K\r\n', 'used_memory')).toBe(1024);
    expect(infoNumber('used_memory:1024\r\n', 'maxmemory')).toBeUndefined();
  });
});
