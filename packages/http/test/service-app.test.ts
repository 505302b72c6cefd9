import type express from 'express';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { z } from 'zod';
import { Database } from '@orrange/db';
import { createLogger } from '@orrange/logger';
import { createTestDatabase, type TestDatabase } from '@orrange/testing';
import {
  createRegistry,
  createServiceApp,
  idempotency,
  IDEMPOTENCY_TABLE_SQL,
  identityOf,
  parse,
  requireRole,
  signIdentity,
  conflict,
} from '../src';

const SECRET = 'test-internal-secret-0123456789abcdef0123';
const logger = createLogger('http-test', 'silent');

describe('createServiceApp', () => {
  let testDb: TestDatabase;
  let db: Database;
  let app: express.Express;
  let effects = 0;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = new Database({ url: testDb.url, name: 'http-test', healthIntervalMs: 0 });
    await db.query(IDEMPOTENCY_TABLE_SQL);
    app = createServiceApp(
      {
        logger,
        registry: createRegistry('http-test'),
        checks: { db: () => db.checkNow().then((h) => ({ status: h.status })) },
        internalTokenSecret: SECRET,
      },
      (a) => {
        a.post('/things', idempotency(db), (req, res) => {
          const body = parse(z.object({ amount: z.string() }).strict(), req.body);
          effects++;
          res.status(201).json({ id: effects, amount: body.amount, userId: req.identity?.userId ?? null });
        });
        a.get('/me', (req, res) => res.json(identityOf(req)));
        a.get('/admin', requireRole('admin'), (_req, res) => res.json({ ok: true }));
        a.get('/conflict', () => {
          throw conflict('THING.CONFLICT', 'It clashes.');
        });
        a.get('/boom', async () => {
          throw new Error('SELECT secret FROM users -- leaked?');
        });
        // A write that reached a server in recovery through a Prisma client: Prisma's code, the driver's SQLSTATE inside.
        a.post('/read-only', async () => {
          throw Object.assign(new Error('Raw query failed. Code: `25006`.'), {
            code: 'P2010',
            meta: { driverAdapterError: { cause: { originalCode: '25006', kind: 'postgres' } } },
          });
        });
      },
    );
  });

  afterAll(async () => {
    await db.close();
    await testDb.drop();
  });

  const as = (userId: string, roles: ('user' | 'admin')[] = ['user']) =>
    signIdentity({ userId, roles, scopes: null, via: 'jwt' }, SECRET);

  it('when a request arrives, then it gets a request id, echoed when sane', async () => {
    const res = await request(app).get('/health').set('X-Request-Id', 'abc-123');
    expect(res.status).toBe(200);
    expect(res.headers['x-request-id']).toBe('abc-123');
    expect(res.body).toMatchObject({ status: 'ok', checks: { db: { status: 'ok' } } });
    const generated = await request(app).get('/health').set('X-Request-Id', 'bad id with spaces');
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('when /metrics is scraped, then Prometheus text comes back', async () => {
    const res = await request(app).get('/metrics');
    expect(res.text).toContain('http_request_duration_seconds_bucket');
    expect(res.text).toContain('process_resident_memory_bytes');
  });

  it('when the body has unknown fields or wrong types, then 400 problem+json lists them', async () => {
    const res = await request(app)
      .post('/things')
      .set('x-orrange-identity', as('u1'))
      .send({ amount: 5, role: 'admin' });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 400, code: 'VALIDATION.FAILED', requestId: expect.any(String) });
    expect(res.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['(body)', 'amount']);
  });

  it('when the JSON is malformed or too large, then 400 and 413 problems answer', async () => {
    const bad = await request(app).post('/things').set('Content-Type', 'application/json').send('{"amount":');
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('REQUEST.MALFORMED_JSON');
    const huge = await request(app)
      .post('/things')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ amount: 'x'.repeat(1_100_000) }));
    expect(huge.status).toBe(413);
  });

  it('when an unexpected error is thrown, then a 500 leaks nothing', async () => {
    const res = await request(app).get('/boom');
    expect(res.status).toBe(500);
    expect(JSON.stringify(res.body)).not.toMatch(/SELECT|secret|stack/);
  });

  it('when a write through Prisma reaches a read-only server, then 503 SERVICE.DATABASE_UNAVAILABLE, as through pg', async () => {
    const res = await request(app).post('/read-only');
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('SERVICE.DATABASE_UNAVAILABLE');
  });

  it('when identity is missing, forged or lacks the role, then 401 or 403', async () => {
    expect((await request(app).get('/me')).status).toBe(401);
    const forged = signIdentity(
      { userId: 'u1', roles: ['admin'], scopes: null, via: 'jwt' },
      'another-secret-0123456789abcdef0123456',
    );
    expect((await request(app).get('/me').set('x-orrange-identity', forged)).status).toBe(401);
    expect((await request(app).get('/admin').set('x-orrange-identity', as('u1'))).status).toBe(403);
    expect(
      (
        await request(app)
          .get('/admin')
          .set('x-orrange-identity', as('u2', ['admin']))
      ).status,
    ).toBe(200);
  });

  it('when a forwarded identity was accepted and then expires, then the same header is refused', async () => {
    const shortLived = jwt.sign({ roles: ['user'], scopes: null, via: 'jwt' }, SECRET, {
      algorithm: 'HS256',
      subject: 'u-exp',
      audience: 'orrange-internal',
      issuer: 'orrange-gateway',
      expiresIn: 1,
    });
    const first = await request(app).get('/me').set('x-orrange-identity', shortLived);
    expect(first.status).toBe(200);
    expect(first.body.userId).toBe('u-exp');
    await new Promise((resolve) => setTimeout(resolve, 2100));
    expect((await request(app).get('/me').set('x-orrange-identity', shortLived)).status).toBe(401);
  });

  it('when an API key lacks the trade scope, then writes are refused', async () => {
    const readOnly = signIdentity({ userId: 'u1', roles: ['user'], scopes: ['read'], via: 'api-key' }, SECRET);
    expect((await request(app).get('/me').set('x-orrange-identity', readOnly)).status).toBe(200);
    const res = await request(app).post('/things').set('x-orrange-identity', readOnly).send({ amount: '1' });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('AUTH.SCOPE_MISSING');
  });

  it('when an Idempotency-Key is replayed, then the first answer returns and the effect happens once', async () => {
    const before = effects;
    const first = await request(app)
      .post('/things')
      .set('x-orrange-identity', as('u1'))
      .set('Idempotency-Key', 'k-1')
      .send({ amount: '1.5' });
    const again = await request(app)
      .post('/things')
      .set('x-orrange-identity', as('u1'))
      .set('Idempotency-Key', 'k-1')
      .send({ amount: '1.5' });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers['idempotency-replayed']).toBe('true');
    expect(effects).toBe(before + 1);
    const other = await request(app)
      .post('/things')
      .set('x-orrange-identity', as('u1'))
      .set('Idempotency-Key', 'k-1')
      .send({ amount: '2' });
    expect(other.status).toBe(422);
    expect(other.body.code).toBe('IDEMPOTENCY.KEY_REUSED');
    const otherUser = await request(app)
      .post('/things')
      .set('x-orrange-identity', as('u2'))
      .set('Idempotency-Key', 'k-1')
      .send({ amount: '2' });
    expect(otherUser.status).toBe(201);
  });

  it('when the same key races, then exactly one request runs', async () => {
    const before = effects;
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        request(app)
          .post('/things')
          .set('x-orrange-identity', as('u3'))
          .set('Idempotency-Key', 'race')
          .send({ amount: '1' }),
      ),
    );
    expect(effects).toBe(before + 1);
    expect(results.every((r) => r.status === 201 || r.status === 409)).toBe(true);
  });

  it('when a route is unknown, then 404 problem+json', async () => {
    const res = await request(app).get('/nope');
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('ROUTE.NOT_FOUND');
  });
});
