import type { Router } from 'express';
import {
  forbidden,
  hasRole,
  idempotency,
  identityOf,
  pageView,
  parse,
  readPage,
  requireAuth,
  requireRole,
  serviceRouter,
  wireUnits,
} from '@orrange/http';
import { ASSET_SCALES } from '@orrange/money';
import { AS_SYSTEM, asUser } from '@orrange/db';
import { balancesOf, ledgerOf, verifyLedger } from '../data/ledger.repository';
import { pendingWithdrawalCheck } from '../data/withdrawal.repository';
import type { TradeExecutionService } from '../composition';
import { deposit } from '../domain/wallet.use-case';
import { depositBody, emptyBody, ledgerKeys, pageQuery } from './schemas';
import { balanceView, decimal, ledgerLineView } from './wallet.view';

export function walletRouter({ runtime, config, live }: TradeExecutionService): Router {
  const { db } = runtime;
  const router = serviceRouter();

  router.get('/api/v1/wallet/balances', requireAuth, async (req, res) => {
    const userId = identityOf(req).userId;
    res.json({ data: (await balancesOf(db.withSettings(asUser(userId)).primary, userId)).map(balanceView) });
  });

  router.post('/api/v1/wallet/deposits', requireAuth, idempotency(db), async (req, res) => {
    const who = identityOf(req);
    const body = parse(depositBody, req.body);
    // An admin's API key carries no admin role (verifyIdentity): crediting money needs the admin's session.
    if (config.NODE_ENV === 'production' && !(hasRole(who, 'admin') && who.via === 'jwt'))
      throw forbidden('Deposits are credited by the custody integration in production.', 'WALLET.DEPOSITS_DISABLED');
    const units = wireUnits(body.amount, ASSET_SCALES[body.asset], 'amount');
    const id = await deposit(db, who.userId, body.asset, units);
    void live.balanceChanged(who.userId, body.asset);
    res.status(201).json({ id, asset: body.asset, amount: decimal(body.asset, units), status: 'CREDITED' });
  });

  // Ledger history tolerates a replica's lag; balances (what a client checks after moving money) do not.
  router.get('/api/v1/wallet/ledger', requireAuth, async (req, res) => {
    const userId = identityOf(req).userId;
    const page = await readPage(ledgerKeys, parse(pageQuery, req.query), (before, rowsMax) =>
      ledgerOf(db.withSettings(asUser(userId)).replicaReader, userId, rowsMax, before?.id ?? null),
    );
    res.json(pageView(page, ledgerLineView));
  });

  router.get('/api/v1/admin/ledger/verify', requireRole('admin'), async (req, res) => {
    parse(emptyBody, req.query);
    const [assets, pending] = await db.transaction(
      async (tx) => [await verifyLedger(tx), await pendingWithdrawalCheck(tx)] as const,
      // The whole ledger and every open withdrawal.
      { isolation: 'REPEATABLE READ', settings: AS_SYSTEM },
    );
    // PENDING_WITHDRAWAL holds exactly the amount and fee of the open withdrawals: each ending moved its money once.
    const ok =
      assets.every(
        (a) =>
          a.sum === 0n &&
          a.entriesSum === 0n &&
          a.negativeAccounts === 0 &&
          a.mismatchedAccounts === 0 &&
          a.unbalancedJournals === 0,
      ) && pending.every((p) => p.held === p.owed);
    res.json({
      ok,
      checkedAt: new Date().toISOString(),
      assets: assets.map((a) => ({ ...a, sum: decimal(a.asset, a.sum), entriesSum: decimal(a.asset, a.entriesSum) })),
      pendingWithdrawals: pending.map((p) => ({
        asset: p.asset,
        held: decimal(p.asset, p.held),
        owed: decimal(p.asset, p.owed),
      })),
    });
  });

  return router;
}
