import type { SqlRunner } from '@orrange/db';
import type { Router } from 'express';
import { identityOf, idempotency, parse, requireAuth, requireSession, serviceRouter, wireUnits } from '@orrange/http';
import { ASSET_SCALES, type Asset } from '@orrange/money';
import { idempotencyProtection } from '@orrange/secrets';
import * as useCases from '../domain/dispute.use-case';
import type { DisputeDeps } from '../domain/dispute.use-case';
import {
  assignBodySchema,
  evidenceBodySchema,
  idParamsSchema,
  listQuerySchema,
  resolveBodySchema,
} from './dispute.schemas';

/**
 * API.md's disputes: thin routes that validate, call a use case and answer. Idempotency-Keys are packages/http's
 * table and statements, on the runtime's pools (`keys`).
 */
export function disputeRoutes(deps: DisputeDeps, keys: SqlRunner): Router {
  const router = serviceRouter();
  // Stored answers are sealed: an evidence answer carries its body, which may hold bank details.
  router.use('/api/v1/disputes', requireAuth, idempotency(keys, { protect: idempotencyProtection(deps.keyring) }));

  router.get('/api/v1/disputes', async (req, res) => {
    res.json(await useCases.listDisputes(deps, identityOf(req), parse(listQuerySchema, req.query)));
  });

  router.get('/api/v1/disputes/:id', async (req, res) => {
    const { id } = parse(idParamsSchema, req.params);
    res.json(await useCases.getDispute(deps, identityOf(req), id));
  });

  router.get('/api/v1/disputes/:id/export', async (req, res) => {
    const { id } = parse(idParamsSchema, req.params);
    res.json(await useCases.exportDispute(deps, identityOf(req), id));
  });

  router.post('/api/v1/disputes/:id/evidence', async (req, res) => {
    const { id } = parse(idParamsSchema, req.params);
    res.status(201).json(await useCases.addEvidence(deps, identityOf(req), id, parse(evidenceBodySchema, req.body)));
  });

  // Arbitration moves money: assignment and resolution need the arbitrator's or admin's session, never an API key.
  router.post('/api/v1/disputes/:id/assign', requireSession, async (req, res) => {
    const { id } = parse(idParamsSchema, req.params);
    res.json(await useCases.assignDispute(deps, identityOf(req), id, parse(assignBodySchema, req.body ?? {})));
  });

  router.post('/api/v1/disputes/:id/resolve', requireSession, async (req, res) => {
    const { id } = parse(idParamsSchema, req.params);
    const { buyerAmount, ...decision } = parse(resolveBodySchema, req.body);
    // The case's asset decides buyerAmount's decimals: the use case reads it once the case is loaded.
    const buyerUnitsFor =
      buyerAmount === undefined
        ? undefined
        : (asset: Asset) => wireUnits(buyerAmount, ASSET_SCALES[asset], 'buyerAmount');
    res.json(await useCases.resolveDispute(deps, identityOf(req), id, { ...decision, buyerUnitsFor }));
  });

  return router;
}
