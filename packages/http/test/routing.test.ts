import { Router } from 'express';
import request from 'supertest';
import { createLogger } from '@orrange/logger';
import { createRegistry, createServiceApp, serviceRouter } from '../src';

const SECRET = 'test-internal-secret-0123456789abcdef0123';
const logger = createLogger('http-test', 'silent');
const options = () => ({
  logger,
  registry: createRegistry('http-routing-test'),
  checks: {},
  internalTokenSecret: SECRET,
});

describe('service routing', () => {
  const app = createServiceApp(options(), (a) => {
    const router = serviceRouter();
    router.post('/api/v1/auth/login', (_req, res) => res.json({ hit: 'login' }));
    router.use('/api/v1/things', (_req, res, next) => {
      res.setHeader('x-guarded', 'yes');
      next();
    });
    router.get('/api/v1/things/:id', (req, res) => res.json({ id: req.params.id }));
    a.use(router);
    a.get('/api/v1/direct', (_req, res) => res.json({ hit: 'direct' }));
  });

  it('when a route is asked with its one spelling, then it answers', async () => {
    expect((await request(app).post('/api/v1/auth/login')).body).toEqual({ hit: 'login' });
    expect((await request(app).get('/api/v1/direct')).body).toEqual({ hit: 'direct' });
    expect((await request(app).get('/api/v1/things/AbC')).body).toEqual({ id: 'AbC' });
  });

  it.each([
    ['POST', '/api/v1/auth/login/'],
    ['POST', '/api/v1/auth/LOGIN'],
    ['POST', '/api/v1/Auth/login'],
    ['POST', '/API/v1/auth/login'],
    ['POST', '/api/v1/auth//login'],
    ['POST', '/api/v1/auth/%6Cogin'],
    ['POST', '/api/v1/auth/login;x'],
    ['GET', '/api/v1/direct/'],
    ['GET', '/api/v1/DIRECT'],
    ['GET', '/api/v1/things/abc/'],
    ['GET', '/api/v1/THINGS/abc'],
    ['GET', '/HEALTH'],
    ['GET', '/metrics/'],
  ])('when %s %s spells a route another way, then 404 problem+json', async (method, path) => {
    const res = await (method === 'POST' ? request(app).post(path) : request(app).get(path));
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.body.code).toBe('ROUTE.NOT_FOUND');
  });

  it("when a service mounts express's lenient Router(), then building the app fails at boot", () => {
    expect(() => createServiceApp(options(), (a) => a.use(Router()))).toThrow(/serviceRouter/);
    const nested = serviceRouter();
    nested.use(Router());
    expect(() => createServiceApp(options(), (a) => a.use(nested))).toThrow(/serviceRouter/);
  });
});
