import type { Request, Router } from 'express';
import {
  hasRole,
  idempotentInTransaction,
  identityOf,
  notFound,
  pageView,
  parse,
  readPage,
  requireAuth,
  serviceRouter,
  validationFailed,
  wireUnits,
} from '@orrange/http';
import { ASSET_SCALES, FIAT_SCALE, type Asset } from '@orrange/money';
import type { z } from 'zod';
import type { Database } from '@orrange/db';
import type { LiveEvent } from '@orrange/runtime';
import type { BookCache } from '../data/book-cache';
import {
  adExtras,
  findOrder,
  listOpenOrders,
  listUserOrders,
  paymentMethodTypes,
  type AdExtras,
} from '../data/order.repository';
import { cancelOrder } from '../domain/cancel-order.use-case';
import type { Order } from '../domain/order';
import { orderView } from './order.view';
import type { OrderBookDeps } from '../domain/order-book.deps';
import type { Placed } from '../domain/match-batch';
import { editOrder, pauseOrder, resumeOrder, type OrderPatch } from '../domain/edit-order.use-case';
import { placeOrder } from '../domain/place-order.use-case';
import { takeOrder } from '../domain/take-order.use-case';
import { bestPriceFirst, newestFirst } from './cursor';
import {
  emptyBody,
  normalizePaymentMethod,
  listOrdersQuery,
  myOrdersQuery,
  orderBookQuery,
  orderIdParam,
  patchOrderBody,
  placeOrderBody,
  takeOrderBody,
} from './order.schemas';

export interface OrdersRouterDeps {
  db: Database;
  deps: OrderBookDeps;
  bookCache: BookCache;
  /** Queues live updates after the answer's commit (never awaited, never failing the request; a turn's events are one Redis round trip). */
  live?: (events: LiveEvent[]) => void;
}

/** API.md "Orders and order book": thin routes that validate, call a use case and answer. */
export function ordersRouter({ db, deps, bookCache, live }: OrdersRouterDeps): Router {
  const router = serviceRouter();
  // The caller's order as this answer shows it, as `order.updated` on their live stream: no query of its own.
  const orderUpdated = (userId: string, order: ReturnType<typeof orderView>) =>
    live?.([{ userId, type: 'order.updated', data: order }]);

  // The Idempotency-Key of a placement or a take is recorded in the use case's own transaction (claimed in its
  // first round trip, the answer stored with its COMMIT): no statements or commits of its own on the hottest path.
  router.post(
    '/api/v1/orders',
    requireAuth,
    idempotentInTransaction(db, async (req, res, claim) => {
      const userId = identityOf(req).userId;
      const body = parse(placeOrderBody, req.body);
      const scale = ASSET_SCALES[body.asset];
      const paymentMethods = body.paymentMethods ?? (await savedMethodTypes(db, userId, body.paymentMethodIds ?? []));
      const placed = await placeOrder(
        deps,
        {
          userId,
          side: body.side,
          asset: body.asset,
          fiatCurrency: body.fiatCurrency,
          price: wireUnits(body.price, FIAT_SCALE, 'price'),
          amount: wireUnits(body.amount, scale, 'amount'),
          minFill: body.minFill === undefined ? 1n : wireUnits(body.minFill, scale, 'minFill'),
          paymentMethods,
          paymentMethodIds: body.paymentMethodIds ?? [],
          paymentWindowMinutes: body.paymentWindowMinutes,
          terms: body.terms ?? null,
          minFiat: body.minFiat === undefined ? null : wireUnits(body.minFiat, FIAT_SCALE, 'minFiat'),
          maxFiat: body.maxFiat === undefined ? null : wireUnits(body.maxFiat, FIAT_SCALE, 'maxFiat'),
          expiresAt: body.expiresAt ?? null,
          merchant: hasRole(identityOf(req), 'merchant'),
        },
        claim && { claim, answer: answer201 },
      );
      res.status(201).json(answer201(placed));
      orderUpdated(userId, orderView(placed.order, userId));

      function answer201(p: Placed) {
        return { order: orderView(p.order, userId), fills: p.fills };
      }
    }),
  );

  router.get('/api/v1/orders/mine', requireAuth, async (req, res) => {
    const userId = identityOf(req).userId;
    const query = parse(myOrdersQuery, req.query);
    const page = await readPage(newestFirst, query, (before, rowsMax) =>
      listUserOrders(db, userId, query.status, rowsMax, before?.seq),
    );
    res.json(pageView(page, (o) => orderView(o, userId)));
  });

  // The public list of ads tolerates a replica's lag (REPLICA_LAG_MAX_MS); one ad (GET /orders/:id, what a maker
  // reads after placing it) and one's own orders are read from the primary.
  router.get('/api/v1/orders', async (req, res) => {
    const query = parse(listOrdersQuery, req.query);
    const page = await readPage(bestPriceFirst, query, (after, rowsMax) =>
      listOpenOrders(db.replicaReader, { ...query, limit: rowsMax, after }),
    );
    const extras = await adExtras(db.replicaReader, page.data);
    res.json(pageView(page, (o) => ({ ...orderView(o, req.identity?.userId), ...publicExtras(o, extras) })));
  });

  router.get('/api/v1/orders/:id', async (req, res) => {
    const order = await findOrder(db, orderId(req));
    if (!order) throw notFound('ORDER.NOT_FOUND', 'No such order.');
    res.json({
      order: { ...orderView(order, req.identity?.userId), ...publicExtras(order, await adExtras(db, [order])) },
    });
  });

  router.delete('/api/v1/orders/:id', requireAuth, async (req, res) => {
    const userId = identityOf(req).userId;
    const order = await cancelOrder(deps, userId, orderId(req));
    res.json({ order: orderView(order, userId) });
    orderUpdated(userId, orderView(order, userId));
  });

  router.patch('/api/v1/orders/:id', requireAuth, async (req, res) => {
    const userId = identityOf(req).userId;
    const id = orderId(req);
    const body = parse(patchOrderBody, req.body);
    const placed = await editOrder(deps, userId, id, (asset) => orderPatch(body, asset));
    res.json({ order: orderView(placed.order, userId), fills: placed.fills });
    orderUpdated(userId, orderView(placed.order, userId));
  });

  router.post('/api/v1/orders/:id/pause', requireAuth, async (req, res) => {
    const userId = identityOf(req).userId;
    parse(emptyBody, req.body ?? {});
    const paused = orderView((await pauseOrder(deps, userId, orderId(req))).order, userId);
    res.json({ order: paused });
    orderUpdated(userId, paused);
  });

  router.post('/api/v1/orders/:id/resume', requireAuth, async (req, res) => {
    const userId = identityOf(req).userId;
    parse(emptyBody, req.body ?? {});
    const placed = await resumeOrder(deps, userId, orderId(req));
    res.json({ order: orderView(placed.order, userId), fills: placed.fills });
    orderUpdated(userId, orderView(placed.order, userId));
  });

  router.post(
    '/api/v1/orders/:id/take',
    requireAuth,
    idempotentInTransaction(db, async (req, res, claim) => {
      const userId = identityOf(req).userId;
      const id = orderId(req);
      const body = parse(takeOrderBody, req.body);
      const taken = await takeOrder(
        deps,
        {
          userId,
          orderId: id,
          amountFor: (asset) => wireUnits(body.amount, ASSET_SCALES[asset], 'amount'),
          paymentMethod: body.paymentMethod,
          merchant: hasRole(identityOf(req), 'merchant'),
        },
        claim && { claim, answer: (t) => t },
      );
      res.status(201).json(taken);
    }),
  );

  router.get('/api/v1/orderbook', async (req, res) => {
    const query = parse(orderBookQuery, req.query);
    const book = await bookCache.read(query.asset as Asset, query.fiatCurrency, query.depth);
    // The book's version is its sequence: a client that holds this one gets 304 without the body (express answers
    // it from If-None-Match), and no hash of the body is computed to say so.
    res.set('ETag', `W/"${book.asset}-${book.fiatCurrency}-${book.sequence}-${query.depth}"`);
    res.json(book);
  });

  return router;
}

/**
 * The payment methods of a SELL that names only the seller's saved methods: their types (one read of the user
 * service's payment_method_types, only for this form of the request). Ids that are not the seller's are a 400.
 */
async function savedMethodTypes(db: Database, userId: string, ids: string[]): Promise<string[]> {
  const found = await paymentMethodTypes(db, userId, ids);
  if (found.length !== ids.length)
    throw validationFailed([{ path: 'paymentMethodIds', message: 'must be ids of your saved payment methods' }]);
  const typeOf = new Map(found.map((m) => [m.id, normalizePaymentMethod(m.type)]));
  return [...new Set(ids.map((id) => typeOf.get(id)!))];
}

/** A PATCH body in the domain's units; amounts at the order's asset's decimals (a 400 otherwise). */
function orderPatch(body: z.infer<typeof patchOrderBody>, asset: Asset): OrderPatch {
  const units = (path: 'amount' | 'minFill', value: string | undefined) =>
    value === undefined ? undefined : wireUnits(value, ASSET_SCALES[asset], path);
  const cents = (path: 'price' | 'minFiat' | 'maxFiat', value: string | null | undefined) =>
    value === undefined ? undefined : value === null ? null : wireUnits(value, FIAT_SCALE, path);
  return {
    price: cents('price', body.price) ?? undefined,
    amount: units('amount', body.amount),
    minFill: units('minFill', body.minFill),
    minFiat: cents('minFiat', body.minFiat),
    maxFiat: cents('maxFiat', body.maxFiat),
    paymentMethods: body.paymentMethods,
    paymentMethodIds: body.paymentMethodIds,
    terms: body.terms,
    paymentWindowMinutes: body.paymentWindowMinutes,
    expiresAt: body.expiresAt,
  };
}

/**
 * What public reads of an ad add: the maker's public stats (an account the user service does not know: none yet),
 * and for a SELL whether its trades will carry the seller's payment details (false: paymentDetails will be null).
 */
function publicExtras(order: Order, { makers, onFile }: AdExtras) {
  const maker = makers.get(order.userId) ?? {
    id: order.userId,
    username: '',
    tradesCompleted: 0,
    completionRate: null,
    avgReleaseSeconds: null,
  };
  return { maker, ...(order.side === 'SELL' ? { paymentDetailsOnFile: onFile.get(order.id) ?? false } : {}) };
}

/** Ids are UUIDs; anything else cannot exist, so it is a 404 like any unknown order. */
function orderId(req: Request): string {
  const parsed = orderIdParam.safeParse(req.params.id);
  if (!parsed.success) throw notFound('ORDER.NOT_FOUND', 'No such order.');
  return parsed.data;
}
