import { operationIdOf } from '@orrange/http';

type Json = Record<string, unknown>;

const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});

/** `?ticket=`: a stream ticket (POST /api/v1/stream/tickets), for clients that cannot send headers. */
export const STREAM_TICKET_SCHEME = {
  type: 'apiKey',
  in: 'query',
  name: 'ticket',
  description: 'A single-use stream ticket from POST /api/v1/stream/tickets, valid 60 s.',
};

const USER_EVENTS = [
  "The caller's events, each `id: <stream id>`, `event: <type>`, `data: <one line of JSON>`:",
  "`order.updated` (the order as GET /api/v1/orders/{id} answers its owner; written for the caller's own placements, edits, pauses, resumes and cancels),",
  '`trade.updated` (the trade as GET /api/v1/trades/{id} answers it, without `paymentDetails`; when a trade opens, the subset id, matchId, buyerId, sellerId, asset, fiatCurrency, price, amount, fiatAmount, status),',
  '`trade.message` (the message as POST /api/v1/trades/{id}/messages answers it, to the parties and the assigned arbitrator),',
  '`balance.updated` (one entry of GET /api/v1/wallet/balances: asset, available, held, inEscrow).',
  'A comment (`: heartbeat`) every STREAM_HEARTBEAT_MS (at most 15 s). Reconnect with `Last-Event-ID` (or `?lastEventId=`) to get what was missed;',
  'events stay resumable for 10 minutes (at least the 5 API.md promises). A client further behind, or with an unknown id, first receives',
  '`event: resync` (`{ reason }`: RETENTION_PASSED, UNKNOWN_EVENT_ID, TOO_FAR_BEHIND, REPLAY_FAILED) and must re-read its state over REST.',
].join(' ');

/** The gateway's live-update operations (API.md, "Live updates"), served by the gateway itself. */
export const STREAM_PATHS: Json = {
  '/api/v1/stream/tickets': {
    post: {
      operationId: operationIdOf('post', '/api/v1/stream/tickets'),
      tags: ['Gateway'],
      security: [{ bearerAuth: [] }, { apiKey: [] }],
      summary:
        'A single-use ticket for GET /api/v1/stream?ticket= (browser EventSource cannot send headers), valid 60 s',
      responses: {
        201: {
          description: 'the ticket',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['ticket', 'expiresAt'],
                properties: { ticket: { type: 'string' }, expiresAt: { type: 'string', format: 'date-time' } },
              },
            },
          },
        },
        401: problem('AUTH.UNAUTHORIZED: no credentials'),
        403: problem('AUTH.SCOPE_MISSING: an API key without `read`'),
      },
    },
  },
  '/api/v1/stream': {
    get: {
      operationId: operationIdOf('get', '/api/v1/stream'),
      tags: ['Gateway'],
      security: [{ bearerAuth: [] }, { apiKey: [] }, { streamTicket: [] }],
      summary: "The caller's live updates (Server-Sent Events)",
      description: USER_EVENTS,
      parameters: [
        {
          name: 'Last-Event-ID',
          in: 'header',
          required: false,
          schema: { type: 'string' },
          description: 'The id of the last event received: resume after it',
        },
        {
          name: 'lastEventId',
          in: 'query',
          required: false,
          schema: { type: 'string' },
          description: 'Last-Event-ID for clients that cannot send it',
        },
      ],
      responses: {
        200: { description: 'an event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
        401: problem('AUTH.UNAUTHORIZED, or STREAM.INVALID_TICKET: unknown, expired or used ticket'),
        403: problem('AUTH.SCOPE_MISSING: an API key without `read`'),
        429: problem(
          'STREAM.TOO_MANY: the user holds STREAMS_PER_USER_MAX (5) streams already, across every gateway; or RATE_LIMITED',
        ),
        503: problem('STREAM.UNAVAILABLE: live updates cannot be served right now'),
      },
    },
  },
  '/api/v1/stream/orderbook': {
    get: {
      operationId: operationIdOf('get', '/api/v1/stream/orderbook'),
      tags: ['Gateway'],
      security: [],
      summary: "A market's order book, live (Server-Sent Events, public)",
      description:
        '`event: snapshot` first (the book as GET /api/v1/orderbook answers it, with its `sequence`), then `event: book` with every newer book ' +
        '(the same shape, up to 100 levels a side, `id:` its `sequence`). Sequences only grow; a client that reconnects takes a new snapshot. ' +
        'A comment heartbeat every STREAM_HEARTBEAT_MS (at most 15 s).',
      parameters: [
        { name: 'asset', in: 'query', required: true, schema: { type: 'string' } },
        { name: 'fiatCurrency', in: 'query', required: true, schema: { type: 'string' } },
      ],
      responses: {
        200: { description: 'an event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
        400: problem('VALIDATION.FAILED'),
        404: problem('the market does not exist (as GET /api/v1/orderbook answers)'),
        503: problem('STREAM.UNAVAILABLE or UPSTREAM.UNAVAILABLE'),
      },
    },
  },
};
