import path from 'node:path';
import type { Express } from 'express';
import request from 'supertest';
import { createLogger } from '@orrange/logger';
import type { Runtime } from '@orrange/runtime';
import { applyMigrations, createTestRedis, eventually, ReplicatedPostgres, type TestRedis } from '@orrange/testing';
import { createApp } from '../src/app';
import { createUserService, type UserService } from '../src/composition';
import { readConfig, SCHEMA, type Config } from '../src/config';
import { identity, registerUser } from './fixtures';

/**
 * The service against a real streaming replica (a throw-away primary and a `pg_basebackup -R` replica of it, on
 * ports of their own): public profiles read from the replica while it keeps up, from the primary once it lags
 * past REPLICA_LAG_MAX_MS, from the replica again with the primary down (/health degraded, writes 503), and
 * writes come back by themselves once the replica is promoted (DATABASE_URL lists both hosts).
 */
describe('user: replica reads, lag bound, primary down and promotion (real streaming replica)', () => {
  let cluster: ReplicatedPostgres;
  let testRedis: TestRedis;
  let service: UserService;
  let runtime: Runtime;
  let config: Config;
  let app: Express;

  beforeAll(async () => {
    cluster = await ReplicatedPostgres.start();
    await cluster.query('primary', 'CREATE DATABASE orrange');
    await applyMigrations(cluster.url('primary', 'orrange'), {
      schema: SCHEMA,
      dir: path.join(__dirname, '../prisma/migrations'),
    });
    testRedis = await createTestRedis();
    config = readConfig({
      DATABASE_URL: `postgresql://postgres@127.0.0.1:${cluster.primaryPort},127.0.0.1:${cluster.replicaPort}/orrange`,
      DATABASE_REPLICA_URLS: cluster.url('replica', 'orrange'),
      REPLICA_LAG_MAX_MS: '2000',
      REPLICA_CHECK_INTERVAL_MS: '50',
      // Only a failed statement makes the primary checked before the next minute: that is what is tested.
      DB_HEALTH_INTERVAL_MS: '60000',
      DB_STATEMENT_TIMEOUT_MS: '5000',
      REDIS_URL: testRedis.url,
      REDIS_PREFIX: testRedis.prefix,
      LOG_LEVEL: 'silent',
      NODE_ENV: 'test',
    });
    service = createUserService(config, { logger: createLogger('user', process.env.TEST_LOG ?? 'silent') });
    runtime = service.runtime;
    await runtime.db.checkNow();
    app = createApp({ runtime, store: service.store, config });
  }, 90_000);

  afterAll(async () => {
    await service?.close();
    await testRedis?.cleanup();
    await cluster?.cleanup();
  });

  const readsServedBy = async (target: 'primary' | 'replica') => {
    const metric = await runtime.registry.getSingleMetric('db_lag_tolerant_reads_total')!.get();
    return metric.values.find((v) => v.labels.target === target)?.value ?? 0;
  };
  const health = async () => request(app).get('/health');
  const publicProfile = (id: string) => request(app).get(`/api/v1/users/${id}`);

  it('routes, bounds the lag, survives the primary going down and recovers writes after a promotion', async () => {
    // A fresh replica serves public profiles.
    const alice = await registerUser(app);
    // Waited for on the replica itself: a 200 may come from the primary, and a replica that has replayed all it has
    // received measures as fresh (lag 0) while the registration may still be on its way to it.
    await eventually(
      async () =>
        (await cluster.query('replica', `SELECT 1 FROM ${SCHEMA}.users WHERE id = $1`, [alice.id], 'orrange'))
          .length === 1,
    );
    // Measured again now that the registration is replayed. On a quiet machine an idle replica's lag reads as the age
    // of its last replayed transaction (its receive and replay positions differ), hence a bound of 2 s, not 0.3 s.
    await runtime.db.checkNow();
    const [primaryBefore, replicaBefore] = [await readsServedBy('primary'), await readsServedBy('replica')];
    expect((await publicProfile(alice.id)).body.username).toBe(alice.username);
    expect(await readsServedBy('replica')).toBe(replicaBefore + 1);
    expect(await readsServedBy('primary')).toBe(primaryBefore);
    expect((await health()).body.status).toBe('ok');

    // Replay paused: the replica falls behind; past the bound, reads go to the primary and see the new write.
    await cluster.pauseReplay();
    const patched = await request(app)
      .patch('/api/v1/users/me/profile')
      .set(identity({ config } as never, alice.id))
      .send({ displayName: 'Behind' });
    expect(patched.status).toBe(200);
    await eventually(async () => (await health()).body.checks.database.replicas[0].fresh === false);
    const [stale] = await cluster.query<{ display_name: string | null }>(
      'replica',
      `SELECT display_name FROM ${SCHEMA}.users WHERE id = $1`,
      [alice.id],
      'orrange',
    );
    expect(stale?.display_name ?? null).toBeNull();
    const lagging = await health();
    expect(lagging.status).toBe(200);
    expect(lagging.body.status).toBe('degraded');
    const primaryReads = await readsServedBy('primary');
    expect((await publicProfile(alice.id)).body.profile.displayName).toBe('Behind');
    expect(await readsServedBy('primary')).toBe(primaryReads + 1);
    await cluster.resumeReplay();
    await eventually(async () => (await health()).body.status === 'ok');

    // The primary down: reads answer from the replica, /health says degraded, writes are refused with a 503.
    await cluster.stopPrimary();
    const whileDown = await publicProfile(alice.id);
    expect(whileDown.status).toBe(200);
    expect(whileDown.body.profile.displayName).toBe('Behind');
    await eventually(async () => (await health()).body.checks.database.primary === 'down');
    const degraded = await health();
    expect(degraded.status).toBe(200);
    expect(degraded.body.status).toBe('degraded');
    const replicaReads = await readsServedBy('replica');
    expect((await publicProfile(alice.id)).status).toBe(200);
    expect(await readsServedBy('replica')).toBe(replicaReads + 1);
    const refused = await request(app)
      .post('/api/v1/auth/register')
      .send({ email: 'down@example.com', username: 'down_user', password: 'correct horse battery staple' });
    expect(refused.status).toBe(503);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.headers['retry-after']).toBe('5');
    expect(refused.body).toMatchObject({ status: 503, code: 'SERVICE.DATABASE_UNAVAILABLE' });

    // The replica promoted: writes find it by themselves (the second host of DATABASE_URL), and all is ok again.
    await cluster.promoteReplica();
    let bob: { id: string } | undefined;
    await eventually(async () => {
      bob = await registerUser(app).catch(() => undefined);
      return bob !== undefined;
    });
    expect((await publicProfile(bob!.id)).status).toBe(200);
    await eventually(async () => (await health()).body.status === 'ok');
  }, 60_000);
});
