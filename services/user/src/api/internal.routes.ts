import type { Router } from 'express';
import { notFound, parse, requireService, serviceRouter } from '@orrange/http';
import { resolveKey } from '../domain/api-keys.use-case';
import type { Deps } from '../domain/deps';
import { resolveKeyBody } from './schemas';

/** Service-to-service routes: only identities signed as `via: 'service'` (the gateway) get in. */
export function internalRouter(deps: Deps): Router {
  const router = serviceRouter();

  router.post('/internal/api-keys/resolve', requireService, async (req, res) => {
    const { keyHash } = parse(resolveKeyBody, req.body);
    const resolved = await resolveKey(deps, keyHash);
    if (!resolved) throw notFound('API_KEY.NOT_FOUND', 'No such live API key.');
    res.json(resolved);
  });

  return router;
}
