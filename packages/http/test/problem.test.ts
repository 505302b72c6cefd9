import express from 'express';
import request from 'supertest';
import { createLogger } from '@orrange/logger';
import { problemHandler } from '../src/problem';

/** An error as a Prisma client over @prisma/adapter-pg throws it, pg's SQLSTATE kept inside. */
const throughPrisma = (cause: Record<string, unknown>) =>
  Object.assign(new Error('Invalid `prisma.user.create()` invocation'), {
    code: 'P2010',
    meta: { driverAdapterError: Object.assign(new Error(String(cause.kind)), { name: 'DriverAdapterError', cause }) },
  });

// A write through Prisma on a server in recovery: service-app.test.ts.
describe('problem handler: a database that is away', () => {
  const failing = (error: unknown) => {
    const app = express();
    app.get('/', () => {
      throw error;
    });
    app.use(problemHandler(createLogger('http-test', 'silent')));
    return request(app).get('/');
  };

  it.each([
    ['pg: a write on a server in recovery', Object.assign(new Error('read-only'), { code: '25006' })],
    ['pg: the connection refused', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })],
    ['Prisma: the server unreachable', throughPrisma({ kind: 'DatabaseNotReachable', host: 'db', port: 5432 })],
  ])('when %s, then 503 SERVICE.DATABASE_UNAVAILABLE with Retry-After', async (_case, error) => {
    const res = await failing(error);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.body.code).toBe('SERVICE.DATABASE_UNAVAILABLE');
  });

  it('when a statement fails for another reason, then it is a 500 that names nothing', async () => {
    const res = await failing(throughPrisma({ kind: 'postgres', originalCode: '22012', code: '22012' }));
    expect(res.status).toBe(500);
    expect(res.body.code).toBe('INTERNAL');
  });
});
