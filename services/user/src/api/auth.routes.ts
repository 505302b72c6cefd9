import type { Router } from 'express';
import { parse, serviceRouter } from '@orrange/http';
import { login, logout, refresh, register } from '../domain/auth.use-case';
import type { Deps } from '../domain/deps';
import { protectedIdempotency } from './idempotency';
import { auditContext } from './request';
import { loginBody, refreshBody, registerBody } from './schemas';

export function authRouter(deps: Deps): Router {
  const router = serviceRouter();
  const idempotent = protectedIdempotency(deps);

  router.post('/api/v1/auth/register', idempotent, async (req, res) => {
    const body = parse(registerBody, req.body);
    res.status(201).json(await register(deps, body, auditContext(req)));
  });

  router.post('/api/v1/auth/login', async (req, res) => {
    const body = parse(loginBody, req.body);
    res.json(await login(deps, body, auditContext(req)));
  });

  router.post('/api/v1/auth/refresh', async (req, res) => {
    const { refreshToken } = parse(refreshBody, req.body);
    res.json(await refresh(deps, refreshToken, auditContext(req)));
  });

  router.post('/api/v1/auth/logout', async (req, res) => {
    const { refreshToken } = parse(refreshBody, req.body);
    await logout(deps, refreshToken);
    res.status(204).end();
  });

  return router;
}
