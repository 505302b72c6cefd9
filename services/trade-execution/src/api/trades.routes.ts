import type { Router } from 'express';
import {
  idempotency,
  identityOf,
  notFound,
  pageView,
  parse,
  readPage,
  requireAuth,
  serviceRouter,
} from '@orrange/http';
import { idempotencyProtection } from '@orrange/secrets';
import type { TradeExecutionService } from '../composition';
import { findTrade, listTrades } from '../data/trade.repository';
import { feedbackJson, messageJson, tradeJson } from './trade.view';
import { listMessages, leaveFeedback, postMessage } from '../domain/trade-chat.use-case';
import { paymentDetailsFor } from '../domain/payment-details';
import { actOnTrade, canSee, type PartyAction } from '../domain/trades.use-case';
import {
  disputeBody,
  emptyBody,
  feedbackBody,
  messageBody,
  pageQuery,
  tradeIdParam,
  tradeKeys,
  tradesQuery,
} from './schemas';

export function tradesRouter({ runtime, deps }: TradeExecutionService): Router {
  const { db } = runtime;
  const router = serviceRouter();
  // Stored answers are sealed: a chat message's answer carries its body, which may hold bank details.
  const once = idempotency(db, { protect: idempotencyProtection(deps.keyring) });

  // Trade history tolerates a replica's lag (REPLICA_LAG_MAX_MS); one trade (GET /trades/:id, what a client
  // reads after acting on it) is read from the primary.
  router.get('/api/v1/trades', requireAuth, async (req, res) => {
    const query = parse(tradesQuery, req.query);
    const userId = identityOf(req).userId;
    const page = await readPage(tradeKeys, query, (after, rowsMax) =>
      listTrades(
        db.replicaReader,
        userId,
        query.status ?? null,
        rowsMax,
        after ? { createdAt: new Date(after.t), id: after.id } : null,
      ),
    );
    res.json(pageView(page, tradeJson));
  });

  router.get('/api/v1/trades/:id', requireAuth, async (req, res) => {
    const { id } = parse(tradeIdParam, req.params);
    const trade = await findTrade(db, id);
    const who = identityOf(req);
    if (!trade || !canSee(trade, who)) throw notFound('TRADE.NOT_FOUND', 'No such trade.');
    const paymentDetails = await paymentDetailsFor(
      { db, keyring: deps.keyring },
      trade,
      who,
      String(req.headers['x-request-id'] ?? '') || null,
    );
    res.json({ trade: { ...tradeJson(trade), ...(paymentDetails === undefined ? {} : { paymentDetails }) } });
  });

  for (const action of ['paid', 'release', 'cancel'] as const satisfies readonly PartyAction[]) {
    router.post(`/api/v1/trades/:id/${action}`, requireAuth, once, async (req, res) => {
      const { id } = parse(tradeIdParam, req.params);
      parse(emptyBody, req.body ?? {});
      const { trade } = await actOnTrade(deps, id, identityOf(req), action);
      res.json({ trade: tradeJson(trade) });
    });
  }

  router.post('/api/v1/trades/:id/dispute', requireAuth, once, async (req, res) => {
    const { id } = parse(tradeIdParam, req.params);
    const body = parse(disputeBody, req.body);
    const { disputeId } = await actOnTrade(deps, id, identityOf(req), 'dispute', body.reason);
    res.status(201).json({ disputeId });
  });

  router.get('/api/v1/trades/:id/messages', requireAuth, async (req, res) => {
    const { id } = parse(tradeIdParam, req.params);
    res.json(pageView(await listMessages(deps, id, identityOf(req), parse(pageQuery, req.query)), messageJson));
  });

  router.post('/api/v1/trades/:id/messages', requireAuth, once, async (req, res) => {
    const { id } = parse(tradeIdParam, req.params);
    const body = parse(messageBody, req.body);
    res.status(201).json({ message: messageJson(await postMessage(deps, id, identityOf(req), body.body)) });
  });

  router.post('/api/v1/trades/:id/feedback', requireAuth, once, async (req, res) => {
    const { id } = parse(tradeIdParam, req.params);
    const body = parse(feedbackBody, req.body);
    const feedback = await leaveFeedback(db, id, identityOf(req), body.rating, body.comment);
    res.status(201).json({ feedback: feedbackJson(feedback) });
  });

  return router;
}
