import type { Router } from 'express';
import { identityOf, parse, requireAuth, serviceRouter } from '@orrange/http';
import { createApiKey, listKeys, revokeKey } from '../domain/api-keys.use-case';
import type { Deps } from '../domain/deps';
import { addPaymentMethod, listOwnPaymentMethods, removePaymentMethod } from '../domain/payment-methods.use-case';
import { getMe, getPublicProfile, patchProfile } from '../domain/users.use-case';
import { protectedIdempotency } from './idempotency';
import { auditContext, requireSession } from './request';
import { apiKeyBody, paymentMethodBody, profileBody } from './schemas';

export function usersRouter(deps: Deps): Router {
  const router = serviceRouter();
  const idempotent = protectedIdempotency(deps);
  const me = (req: Parameters<typeof identityOf>[0]) => identityOf(req).userId;

  router.get('/api/v1/users/me', requireAuth, async (req, res) => {
    res.json(await getMe(deps, me(req)));
  });

  router.patch('/api/v1/users/me/profile', requireAuth, async (req, res) => {
    const patch = parse(profileBody, req.body);
    res.json(await patchProfile(deps, me(req), patch));
  });

  router.post('/api/v1/users/me/api-keys', requireSession, idempotent, async (req, res) => {
    const body = parse(apiKeyBody, req.body);
    res.status(201).json(await createApiKey(deps, me(req), body, auditContext(req)));
  });

  router.get('/api/v1/users/me/api-keys', requireSession, async (req, res) => {
    res.json({ data: await listKeys(deps, me(req)), nextCursor: null });
  });

  router.delete('/api/v1/users/me/api-keys/:id', requireSession, async (req, res) => {
    await revokeKey(deps, me(req), String(req.params.id), auditContext(req));
    res.status(204).end();
  });

  router.post('/api/v1/users/me/payment-methods', requireSession, idempotent, async (req, res) => {
    const body = parse(paymentMethodBody, req.body);
    res.status(201).json(await addPaymentMethod(deps, me(req), body, auditContext(req)));
  });

  router.get('/api/v1/users/me/payment-methods', requireSession, async (req, res) => {
    res.json({ data: await listOwnPaymentMethods(deps, me(req)), nextCursor: null });
  });

  router.delete('/api/v1/users/me/payment-methods/:id', requireSession, async (req, res) => {
    await removePaymentMethod(deps, me(req), String(req.params.id), auditContext(req));
    res.status(204).end();
  });

  router.get('/api/v1/users/:id', async (req, res) => {
    res.json(await getPublicProfile(deps, String(req.params.id)));
  });

  return router;
}
