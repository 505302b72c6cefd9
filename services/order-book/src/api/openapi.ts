import type { z } from 'zod';
import { openApiDocument, operation, pageSchema, queryParamsOf, type ApiTag } from '@orrange/http';
import { marketRulesBody } from './markets.routes';
import {
  listOrdersQuery,
  myOrdersQuery,
  orderBookQuery,
  patchOrderBody,
  placeOrderBody,
  takeOrderBody,
} from './order.schemas';

const decimal = { type: 'string', pattern: '^\\d+(\\.\\d+)?$' };
const order = {
  type: 'object',
  required: [
    'id',
    'userId',
    'side',
    'asset',
    'fiatCurrency',
    'price',
    'amount',
    'remaining',
    'minFill',
    'paymentMethods',
    'paymentWindowMinutes',
    'terms',
    'status',
    'createdAt',
    'updatedAt',
  ],
  properties: {
    id: { type: 'string', format: 'uuid' },
    userId: { type: 'string' },
    side: { type: 'string', enum: ['BUY', 'SELL'] },
    asset: { type: 'string' },
    fiatCurrency: { type: 'string' },
    price: decimal,
    amount: decimal,
    remaining: decimal,
    minFill: decimal,
    paymentMethods: { type: 'array', items: { type: 'string' } },
    paymentWindowMinutes: { type: 'integer' },
    terms: { type: 'string', nullable: true },
    minFiat: {
      ...decimal,
      nullable: true,
      description: 'Smallest fiat value of one trade (unless it takes the whole remainder).',
    },
    maxFiat: {
      ...decimal,
      nullable: true,
      description: 'Largest fiat value of one trade: matching and take cut fills to it.',
    },
    expiresAt: {
      type: 'string',
      format: 'date-time',
      nullable: true,
      description: "The order becomes EXPIRED then (a SELL's hold is released).",
    },
    paused: { type: 'boolean', description: 'Out of the book and of matching; a SELL keeps its hold.' },
    paymentMethodIds: {
      type: 'array',
      items: { type: 'string', format: 'uuid' },
      description:
        "Only shown to the owner: the seller's saved payment methods its trades take their payment details from.",
    },
    maker: {
      type: 'object',
      description:
        "In public reads (GET /orders, GET /orders/{id}): the maker's public stats, so a taker can judge the counterparty",
      required: ['id', 'username', 'tradesCompleted', 'completionRate', 'avgReleaseSeconds'],
      properties: {
        id: { type: 'string' },
        username: { type: 'string' },
        tradesCompleted: { type: 'integer' },
        completionRate: { type: 'string', nullable: true },
        avgReleaseSeconds: { type: 'integer', nullable: true },
      },
    },
    paymentDetailsOnFile: {
      type: 'boolean',
      description:
        "In public reads of a SELL: whether its trades will show the buyer the seller's saved payment details (false: paymentDetails will be null)",
    },
    status: {
      type: 'string',
      enum: ['PENDING_FUNDS', 'OPEN', 'PARTIALLY_FILLED', 'FILLED', 'CANCELLED', 'REJECTED', 'EXPIRED'],
    },
    rejectReason: { type: 'string', nullable: true, description: 'Only shown to the owner.' },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
  },
};
const fill = {
  type: 'object',
  required: ['matchId', 'tradeId', 'counterOrderId', 'price', 'amount'],
  properties: {
    matchId: { type: 'string' },
    tradeId: { type: 'string' },
    counterOrderId: { type: 'string' },
    price: decimal,
    amount: decimal,
  },
};
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const level = {
  type: 'object',
  required: ['price', 'amount', 'orderCount'],
  properties: { price: decimal, amount: decimal, orderCount: { type: 'integer' } },
};

const idParam = { name: 'id', in: 'path' as const, schema: { type: 'string', format: 'uuid' } };
const tags: ApiTag[] = ['Orders'];
const orderAnswer = { type: 'object', required: ['order'], properties: { order: ref('Order') } };
const orderAndFills = {
  type: 'object',
  required: ['order', 'fills'],
  properties: { order: ref('Order'), fills: { type: 'array', items: ref('Fill') } },
};

/** An owner's action on one of their orders: 401 signed out, 404 for an order that is not theirs, 409 `conflicts`. */
function ownOrderAction(
  summary: string,
  ok: { description: string; schema: Record<string, unknown> },
  conflicts: string,
  body?: z.ZodType,
) {
  const invalidBody: Record<number, { description: string }> = body ? { 400: { description: 'Invalid body' } } : {};
  return operation({
    summary,
    tags,
    auth: true,
    params: [idParam],
    ...(body ? { body } : {}),
    responses: {
      200: ok,
      ...invalidBody,
      401: { description: 'Not signed in' },
      404: { description: 'No such order (or not yours)' },
      409: { description: conflicts },
    },
  });
}

/** The order-book service's part of the public API; the gateway merges it into /docs/openapi.json. */
export const openapi = openApiDocument(
  'Orrange order-book service',
  {
    '/api/v1/orders': {
      post: operation({
        summary:
          "Place a BUY or SELL order (ad), matched at once. A SELL holds its amount from the seller's balance in the same transaction; every fill answers with its trade, escrow locked.",
        tags,
        auth: true,
        body: placeOrderBody,
        params: [
          {
            name: 'Idempotency-Key',
            in: 'header',
            description: '1–255 characters; same key and body within 24 h replays the answer.',
          },
        ],
        responses: {
          201: { description: 'Placed', schema: orderAndFills },
          400: { description: "Invalid body (paymentMethodIds that are not the seller's saved methods included)" },
          401: { description: 'Not signed in' },
          403: {
            description:
              'TRADE.BUYER_SUSPENDED: a BUY by a buyer 3 of whose trades were cancelled or expired within 24 h (BUYER_CANCELS_MAX), until 24 h after the last',
          },
          422: {
            description:
              "ORDER.PRICE_OUT_OF_BAND (more than 20 % from the market's reference price), ORDER.BELOW_MINIMUM (worth less than the market's minFiat), or Idempotency-Key reused with another body",
          },
          409: {
            description:
              'WALLET.INSUFFICIENT_FUNDS (a SELL the balance cannot cover), ORDER.LIMIT_REACHED (ORDERS_OPEN_MAX open orders, MERCHANT_ORDERS_OPEN_MAX for merchants), TRADE.LIMIT_REACHED (a BUY by a buyer with TRADES_OPEN_AS_BUYER_MAX open trades), or Idempotency-Key in progress',
          },
        },
      }),
      get: operation({
        summary: 'Open orders of a market, best price first (public)',
        tags,
        params: queryParamsOf(listOrdersQuery),
        responses: {
          200: { description: 'A page', schema: pageSchema(ref('Order')) },
          400: { description: 'Invalid query' },
        },
      }),
    },
    '/api/v1/orders/mine': {
      get: operation({
        summary: "The caller's orders, newest first",
        tags,
        auth: true,
        params: queryParamsOf(myOrdersQuery),
        responses: {
          200: { description: 'A page', schema: pageSchema(ref('Order')) },
          400: { description: 'Invalid query' },
          401: { description: 'Not signed in' },
        },
      }),
    },
    '/api/v1/orders/{id}': {
      get: operation({
        summary: 'One order (public fields; the owner also sees rejectReason)',
        tags,
        params: [idParam],
        responses: { 200: { description: 'The order', schema: orderAnswer }, 404: { description: 'No such order' } },
      }),
      patch: ownOrderAction(
        "Edit an own open order: price (loses time priority), amount (never down to what is filled; a SELL's hold follows it), minFill, minFiat, maxFiat, payment methods, terms, window, expiresAt. An order that crosses the book afterwards matches at once",
        { description: 'Edited (and its fills, if it matched)', schema: orderAndFills },
        "ORDER.INVALID_STATE (not open), ORDER.AMOUNT_BELOW_FILLED, or WALLET.INSUFFICIENT_FUNDS (a SELL's larger amount beyond the balance)",
        patchOrderBody,
      ),
      delete: ownOrderAction(
        "Cancel an own pending, open or partly filled order; a SELL order's unfilled hold is released",
        { description: 'Cancelled', schema: orderAnswer },
        'ORDER.INVALID_STATE',
      ),
    },
    '/api/v1/orders/{id}/pause': {
      post: ownOrderAction(
        'Pause an own open order: out of the book and of matching; a SELL keeps its hold',
        { description: 'Paused', schema: orderAnswer },
        'ORDER.INVALID_STATE: not open',
      ),
    },
    '/api/v1/orders/{id}/resume': {
      post: ownOrderAction(
        'Resume a paused order: back in the book with time priority from now, matched at once against what it crosses',
        { description: 'Resumed', schema: orderAndFills },
        'ORDER.INVALID_STATE: not open',
      ),
    },
    '/api/v1/orders/{id}/take': {
      post: operation({
        summary:
          'Take an ad directly: taking a SELL ad buys from its hold, taking a BUY ad sells from your available balance',
        tags,
        auth: true,
        body: takeOrderBody,
        params: [idParam, { name: 'Idempotency-Key', in: 'header' }],
        responses: {
          201: {
            description: 'Matched; the trade follows',
            schema: {
              type: 'object',
              required: ['tradeId', 'fill'],
              properties: { tradeId: { type: 'string' }, fill: ref('Fill') },
            },
          },
          400: {
            description:
              "Invalid body, payment method not accepted, below minFill (ORDER.BELOW_MIN_FILL), or outside the ad's fiat limits (ORDER.BELOW_MIN_FIAT, ORDER.ABOVE_MAX_FIAT)",
          },
          401: { description: 'Not signed in' },
          403: { description: 'TRADE.BUYER_SUSPENDED: the taker would buy and is suspended' },
          404: { description: 'No such order' },
          409: {
            description:
              'ORDER.INVALID_STATE (not live, paused, or its owner cannot buy now), ORDER.SELF_TRADE, ORDER.AMOUNT_UNAVAILABLE, TRADE.LIMIT_REACHED (the taker would buy and has the most open trades), or WALLET.INSUFFICIENT_FUNDS (taking a BUY ad beyond your balance)',
          },
        },
      }),
    },
    '/api/v1/markets': {
      get: operation({
        summary:
          "Every market's rules (public): the reference price orders must stay within 20 % of (set by an admin, else the median of the last 24 h of trades) and the minimum fiat value of an order",
        tags: ['Markets'],
        responses: {
          200: {
            description: 'The markets',
            schema: {
              type: 'object',
              required: ['data'],
              properties: { data: { type: 'array', items: ref('Market') } },
            },
          },
        },
      }),
    },
    '/api/v1/admin/markets/{asset}/{fiatCurrency}': {
      put: operation({
        summary:
          "Admin (in a session): set or clear (null) a market's reference price and minimum fiat value per order",
        tags: ['Admin'],
        auth: 'session',
        body: marketRulesBody,
        params: [
          { name: 'asset', in: 'path' as const, schema: { type: 'string' } },
          { name: 'fiatCurrency', in: 'path' as const, schema: { type: 'string' } },
        ],
        responses: {
          200: { description: 'The market', schema: ref('Market') },
          400: { description: 'Invalid body' },
          401: { description: 'Not signed in' },
          403: { description: 'Not an admin in a session' },
          404: { description: 'Unsupported asset or fiat currency' },
        },
      }),
    },
    '/api/v1/orderbook': {
      get: operation({
        summary: 'Aggregated order book of a market (public, served from cache)',
        tags,
        params: queryParamsOf(orderBookQuery),
        responses: {
          200: {
            description:
              'Price levels, best first. With a weak ETag naming the market, its sequence and the depth: send it back in If-None-Match to get 304 while the book has not changed',
            schema: {
              type: 'object',
              required: ['asset', 'fiatCurrency', 'bids', 'asks', 'sequence', 'updatedAt'],
              properties: {
                asset: { type: 'string' },
                fiatCurrency: { type: 'string' },
                bids: { type: 'array', items: level },
                asks: { type: 'array', items: level },
                sequence: { type: 'integer' },
                updatedAt: { type: 'string', nullable: true },
              },
            },
          },
          304: { description: 'The book is still the version named in If-None-Match' },
          400: { description: 'Invalid query' },
        },
      }),
    },
  },
  {
    Order: order,
    Fill: fill,
    Market: {
      type: 'object',
      required: ['asset', 'fiatCurrency', 'referencePrice', 'referenceSource', 'minFiat'],
      properties: {
        asset: { type: 'string' },
        fiatCurrency: { type: 'string' },
        referencePrice: { ...decimal, nullable: true },
        referenceSource: { type: 'string', enum: ['trades', 'admin', null], nullable: true },
        minFiat: { ...decimal, nullable: true },
      },
    },
  },
);
