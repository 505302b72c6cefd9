import path from 'node:path';
import type { Express } from 'express';
import request from 'supertest';
import { IDENTITY_HEADER, signIdentity } from '@orrange/http';
import { createLogger } from '@orrange/logger';
import { applyMigrations, createTestRedis, eventually, ReplicatedPostgres, type TestRedis } from '@orrange/testing';
import { createApp } from '../src/app';
import { createDisputeService, type DisputeService } from '../src/composition';
import { readConfig, SCHEMA } from '../src/config';
import { disputedEvent } from './factories';

/**
 * Dispute lists read through the Prisma client of a real streaming replica (a throw-away primary and a
 * `pg_basebackup -R` replica of it): from the replica while it keeps up, from the primary once it lags past
 * REPLICA_LAG_MAX_MS, and from the replica again with the primary down.
 */
describe('dispute: lists through Prisma on a replica, lag bound, primary down (real streaming replica)', () => {
  let cluster: ReplicatedPostgres;
  let testRedis: TestRedis;
  let service: DisputeService;
  let app: Express;

  beforeAll(async () => {
    cluster = await ReplicatedPostgres.start();
    await cluster.query('primary', 'CREATE DATABASE orrange');
    await applyMigrations(cluster.url('primary', 'orrange'), {
      schema: SCHEMA,
      dir: path.join(__dirname, '../prisma/migrations'),
    });
    testRedis = await createTestRedis();
    const config = readConfig({
      DATABASE_URL: cluster.url('primary', 'orrange'),
      DATABASE_REPLICA_URLS: cluster.url('replica', 'orrange'),
      // An idle replica's lag reads as the age of its last replayed transaction (see the user service's test).
      REPLICA_LAG_MAX_MS: '2000',
      REPLICA_CHECK_INTERVAL_MS: '50',
      DB_HEALTH_INTERVAL_MS: '60000',
      REDIS_URL: testRedis.url,
      REDIS_PREFIX: testRedis.prefix,
      LOG_LEVEL: 'silent',
      NODE_ENV: 'test',
    });
    service = createDisputeService(config, { logger: createLogger('dispute', 'silent') });
    await service.runtime.db.checkNow();
    app = createApp(service);
  }, 90_000);

  afterAll(async () => {
    await service?.close();
    await testRedis?.cleanup();
    await cluster?.cleanup();
  });

  const readsServedBy = async (target: 'primary' | 'replica') => {
    const metric = await service.runtime.registry.getSingleMetric('db_lag_tolerant_reads_total')!.get();
    return metric.values.find((v) => v.labels.target === target)?.value ?? 0;
  };
  const listAs = async (userId: string) => {
    const identity = signIdentity(
      { userId, roles: ['user'], scopes: null, via: 'jwt' },
      service.runtime.config.INTERNAL_TOKEN_SECRET,
    );
    const res = await request(app).get('/api/v1/disputes').set(IDENTITY_HEADER, identity);
    expect(res.status).toBe(200);
    return (res.body.data as Array<{ id: string }>).map((item) => item.id);
  };
  const open = async (buyerId?: string) => {
    const event = disputedEvent(buyerId ? { buyerId, openedBy: buyerId } : {});
    expect(await service.runtime.consumer!.apply(event)).toBe('applied');
    return event.payload;
  };
  const onReplica = async (disputeId: string) =>
    (await cluster.query('replica', `SELECT 1 FROM ${SCHEMA}.disputes WHERE id = $1`, [disputeId], 'orrange'))
      .length === 1;

  it('routes lists to a fresh replica, to the primary past the lag bound, and to the replica with the primary down', async () => {
    const first = await open();
    await eventually(() => onReplica(first.disputeId));
    await service.runtime.db.checkNow();
    const [primaryBefore, replicaBefore] = [await readsServedBy('primary'), await readsServedBy('replica')];
    expect(await listAs(first.buyerId)).toEqual([first.disputeId]);
    expect(await readsServedBy('replica')).toBe(replicaBefore + 1);
    expect(await readsServedBy('primary')).toBe(primaryBefore);

    // Replay paused: past the bound, the list is read on the primary and holds the case the replica lacks.
    await cluster.pauseReplay();
    const second = await open(first.buyerId);
    await eventually(async () => !service.runtime.db.health().replicas[0]!.fresh);
    expect(await onReplica(second.disputeId)).toBe(false);
    const primaryReads = await readsServedBy('primary');
    expect(await listAs(first.buyerId)).toEqual([second.disputeId, first.disputeId]);
    expect(await readsServedBy('primary')).toBe(primaryReads + 1);

    // The primary down: the list still answers, from the replica (through its own Prisma client).
    await cluster.resumeReplay();
    await eventually(() => onReplica(second.disputeId));
    await cluster.stopPrimary();
    const replicaReads = await readsServedBy('replica');
    expect(await listAs(first.buyerId)).toEqual([second.disputeId, first.disputeId]);
    expect(await readsServedBy('replica')).toBe(replicaReads + 1);
  }, 60_000);
});
