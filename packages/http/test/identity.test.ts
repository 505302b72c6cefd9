import express from 'express';
import request from 'supertest';
import {
  authenticate,
  requireRole,
  requireSession,
  requireSessionOrScope,
  signIdentity,
  verifyIdentity,
  type Identity,
} from '../src';
import { problemHandler } from '../src/problem';
import { createLogger } from '@orrange/logger';

const SECRET = 'test-internal-secret-0123456789abcdef0123';

describe('identity: what an API key may stand for', () => {
  const adminKey: Identity = {
    userId: 'u-admin',
    roles: ['user', 'admin', 'arbitrator'],
    scopes: ['read', 'trade'],
    via: 'api-key',
  };

  it("when an API key's identity is verified, then it holds no admin or arbitrator role, whatever was signed", () => {
    expect(verifyIdentity(signIdentity(adminKey, SECRET), SECRET).roles).toEqual(['user']);
    expect(verifyIdentity(signIdentity({ ...adminKey, via: 'jwt', scopes: null }, SECRET), SECRET).roles).toEqual([
      'user',
      'admin',
      'arbitrator',
    ]);
  });

  describe('route guards', () => {
    const app = express();
    app.use(authenticate(SECRET));
    app.get('/admin', requireRole('admin'), (_req, res) => res.json({ ok: true }));
    app.get('/session', requireSession, (_req, res) => res.json({ ok: true }));
    app.get('/withdraw', requireSessionOrScope('withdraw'), (_req, res) => res.json({ ok: true }));
    app.use(problemHandler(createLogger('http-test', 'silent')));
    const as = (identity: Identity) => ({ 'x-orrange-identity': signIdentity(identity, SECRET) });
    const session: Identity = { userId: 'u-admin', roles: ['user', 'admin'], scopes: null, via: 'jwt' };

    it.each([
      ['/admin', adminKey, 403, 'AUTH.SESSION_REQUIRED'],
      ['/admin', session, 200, undefined],
      ['/session', { ...adminKey, scopes: ['read', 'trade', 'withdraw'] }, 403, 'AUTH.SESSION_REQUIRED'],
      ['/session', session, 200, undefined],
      ['/withdraw', { ...adminKey, scopes: ['read', 'trade'] }, 403, 'AUTH.SCOPE_MISSING'],
      ['/withdraw', { ...adminKey, scopes: ['trade', 'withdraw'] }, 200, undefined],
      ['/withdraw', session, 200, undefined],
      ['/withdraw', { userId: 'gateway', roles: [], scopes: null, via: 'service' }, 403, 'AUTH.SCOPE_MISSING'],
    ] as Array<[string, Identity, number, string | undefined]>)(
      'when %s is asked by %j, then %i',
      async (path, identity, status, code) => {
        const res = await request(app).get(path).set(as(identity));
        expect(res.status).toBe(status);
        expect(res.body.code).toBe(code);
      },
    );
  });
});
