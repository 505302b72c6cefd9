import type { Router } from 'express';
import {
  identityOf,
  idempotency,
  notFound,
  pageView,
  parse,
  readPage,
  requireAuth,
  requireRole,
  requireSessionOrScope,
  serviceRouter,
  wireUnits,
} from '@orrange/http';
import { currentContext } from '@orrange/logger';
import { ASSET_SCALES } from '@orrange/money';
import type { TradeExecutionService } from '../composition';
import { AS_SYSTEM, asUser } from '@orrange/db';
import { depositsOf } from '../data/deposit.repository';
import { findWithdrawal, listWithdrawals, transitionsOf } from '../data/withdrawal.repository';
import { SIGNATURE_HEADER } from '../domain/custody-webhook';
import { receiveCustodyWebhook } from '../domain/custody-webhooks.use-case';
import { depositAddressFor } from '../domain/deposits.use-case';
import { cancelWithdrawal, requestWithdrawal, reviewWithdrawal } from '../domain/withdrawals.use-case';
import {
  adminWithdrawalsQuery,
  depositAddressQuery,
  emptyBody,
  newestFirst,
  pageQuery,
  reviewBody,
  withdrawalBody,
  withdrawalIdParam,
} from './schemas';
import { adminWithdrawalView, depositView, transitionView, withdrawalView } from './wallet.view';

/** The path custody posts to; its body is read raw (the signature is over the exact bytes), see app.ts. */
export const CUSTODY_WEBHOOK_PATH = '/api/v1/custody/webhooks';
/** Custody events are small; a larger body is no event of ours. */
export const WEBHOOK_BODY_LIMIT = '64kb';

/** The cursor of rows ordered by (createdAt, id) descending: the last row's sort key (see timeCursor). */
const requestId = () => currentContext().requestId ?? null;

/** Money in and out: deposit addresses and history, custody webhooks, withdrawals and their review. */
export function custodyRouter({ runtime, custody }: TradeExecutionService): Router {
  const { db } = runtime;
  const router = serviceRouter();

  // No identity: custody is not a user. The signature over the raw body is the authentication.
  router.post(CUSTODY_WEBHOOK_PATH, async (req, res) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    res.json(await receiveCustodyWebhook(custody, raw, req.header(SIGNATURE_HEADER)));
  });

  router.get('/api/v1/wallet/deposit-address', requireAuth, async (req, res) => {
    const { asset } = parse(depositAddressQuery, req.query);
    const address = await depositAddressFor(custody, identityOf(req).userId, asset);
    res.json({ asset: address.asset, network: address.network, address: address.address });
  });

  router.get('/api/v1/wallet/deposits', requireAuth, async (req, res) => {
    const userId = identityOf(req).userId;
    const page = await readPage(newestFirst, parse(pageQuery, req.query), (before, rowsMax) =>
      depositsOf(db.withSettings(asUser(userId)).primary, userId, rowsMax, before ?? null),
    );
    res.json(pageView(page, depositView));
  });

  // Funds leaving the platform: a session, or an API key that was given the `withdraw` scope (`trade` is not enough).
  router.post('/api/v1/wallet/withdrawals', requireSessionOrScope('withdraw'), idempotency(db), async (req, res) => {
    const body = parse(withdrawalBody, req.body);
    const withdrawal = withdrawalView(
      await requestWithdrawal(
        custody,
        identityOf(req).userId,
        body.asset,
        wireUnits(body.amount, ASSET_SCALES[body.asset], 'amount'),
        body.address,
        requestId(),
      ),
    );
    // `withdrawal` is the contract's answer; id and status stay at the top for clients of the first version.
    res.status(201).json({ withdrawal, id: withdrawal.id, status: withdrawal.status });
  });

  router.get('/api/v1/wallet/withdrawals', requireAuth, async (req, res) => {
    const userId = identityOf(req).userId;
    const page = await readPage(newestFirst, parse(pageQuery, req.query), (before, rowsMax) =>
      listWithdrawals(db.withSettings(asUser(userId)).primary, { userId }, rowsMax, before ?? null),
    );
    res.json(pageView(page, withdrawalView));
  });

  router.get('/api/v1/wallet/withdrawals/:id', requireAuth, async (req, res) => {
    const { id } = parse(withdrawalIdParam, req.params);
    const userId = identityOf(req).userId;
    const withdrawal = await findWithdrawal(db.withSettings(asUser(userId)).primary, id);
    if (!withdrawal || withdrawal.userId !== userId) throw notFound('WITHDRAWAL.NOT_FOUND', 'No such withdrawal.');
    res.json({ withdrawal: withdrawalView(withdrawal) });
  });

  router.post(
    '/api/v1/wallet/withdrawals/:id/cancel',
    requireSessionOrScope('withdraw'),
    idempotency(db),
    async (req, res) => {
      const { id } = parse(withdrawalIdParam, req.params);
      parse(emptyBody, req.body ?? {});
      res.json({
        withdrawal: withdrawalView(await cancelWithdrawal(custody, identityOf(req).userId, id, requestId())),
      });
    },
  );

  // Admin: a signed-in session only (requireRole refuses API keys for session-only roles). Admins read every
  // user's withdrawals: as the system.
  const system = db.withSettings(AS_SYSTEM).primary;
  router.get('/api/v1/admin/withdrawals', requireRole('admin'), async (req, res) => {
    const query = parse(adminWithdrawalsQuery, req.query);
    const page = await readPage(newestFirst, query, (before, rowsMax) =>
      listWithdrawals(system, { status: query.status }, rowsMax, before ?? null),
    );
    res.json(pageView(page, adminWithdrawalView));
  });

  router.get('/api/v1/admin/withdrawals/:id', requireRole('admin'), async (req, res) => {
    const { id } = parse(withdrawalIdParam, req.params);
    const withdrawal = await findWithdrawal(system, id);
    if (!withdrawal) throw notFound('WITHDRAWAL.NOT_FOUND', 'No such withdrawal.');
    res.json({
      withdrawal: adminWithdrawalView(withdrawal),
      transitions: (await transitionsOf(system, id)).map(transitionView),
    });
  });

  for (const [action, decision] of [
    ['approve', 'APPROVED'],
    ['reject', 'REJECTED'],
  ] as const) {
    router.post(`/api/v1/admin/withdrawals/:id/${action}`, requireRole('admin'), idempotency(db), async (req, res) => {
      const { id } = parse(withdrawalIdParam, req.params);
      const { note } = parse(reviewBody, req.body ?? {});
      const withdrawal = await reviewWithdrawal(custody, identityOf(req).userId, id, decision, note, requestId());
      res.json({ withdrawal: adminWithdrawalView(withdrawal) });
    });
  }

  return router;
}
