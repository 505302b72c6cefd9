import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import type { Redis } from 'ioredis';
import { forbidden, unauthorized, validationFailed, type Identity } from '@orrange/http';
import type { Logger } from '@orrange/logger';
import { liveKeys, LIVE_RETENTION_MS, LIVE_USER_MAXLEN } from '@orrange/runtime/live-events';
import { gatewayErrors } from '../errors';
import { requestJson } from '../proxy/http-json';
import type { Upstreams } from '../proxy/upstream-pool';
import { SseResponse } from './sse';
import { fieldsOf, type BookEntry, type StreamHub, type UserEntry } from './stream-hub';
import type { StreamSlots } from './stream-slots';
import type { StreamTickets } from './stream-tickets';

export interface StreamRoutesDeps {
  redis: Redis;
  prefix: string;
  hub: StreamHub;
  slots: StreamSlots;
  tickets: StreamTickets;
  upstreams: Upstreams;
  heartbeatMs: number;
  perUserMax: number;
  timeoutMs: number;
  logger: Logger;
}

/** Events replayed on resume at most (what a user's stream keeps, LIVE_USER_MAXLEN); a client further behind is told to resync. */
export const REPLAY_MAX = LIVE_USER_MAXLEN;
/** How long opening a stream waits for the hub's reader to be positioned (Redis down → 503). */
const READY_TIMEOUT_MS = 2_000;
/** What EventSource waits before reconnecting after a dropped connection. */
const RETRY_MS = 2_000;

const STREAM_ID = /^(\d{1,16})-(\d{1,16})$/;
const MARKET_PART = /^[A-Z]{2,10}$/;

/** A stream entry id as a comparable pair; undefined when malformed. */
export function parseStreamId(id: string): [bigint, bigint] | undefined {
  const match = STREAM_ID.exec(id);
  return match ? [BigInt(match[1]!), BigInt(match[2]!)] : undefined;
}
const after = (a: [bigint, bigint], b: [bigint, bigint]) => a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);

/**
 * Live updates over Server-Sent Events (API.md, "Live updates"), served by the gateway itself: it holds the
 * client connections and knows who is calling, so streams never enter the upstream lanes meant for short
 * requests. Events come from the process's one StreamHub reader; a resume replays the user's own Redis stream.
 */
export function streamRouter(deps: StreamRoutesDeps): Router {
  const router = Router();

  router.post('/api/v1/stream/tickets', async (req, res) => {
    const identity = streamIdentity(req.identity);
    res.status(201).json(await deps.tickets.issue(identity));
  });

  router.get('/api/v1/stream', async (req, res) => {
    const ticket = typeof req.query.ticket === 'string' ? req.query.ticket : undefined;
    const identity = streamIdentity(
      req.identity ?? (ticket === undefined ? undefined : await deps.tickets.redeem(ticket)),
      ticket !== undefined,
    );
    const lastEventId =
      req.header('last-event-id') ?? (typeof req.query.lastEventId === 'string' ? req.query.lastEventId : undefined);
    const streamId = randomUUID();
    if (!(await deps.slots.acquire(identity.userId, streamId))) throw gatewayErrors.tooManyStreams(deps.perUserMax);
    // Registered at once: a client gone while the stream is being set up still gives its slot back.
    let heartbeat: NodeJS.Timeout | undefined;
    let unsubscribe: (() => void) | undefined;
    res.once('close', () => {
      clearInterval(heartbeat);
      unsubscribe?.();
      deps.slots.release(identity.userId, streamId).catch(() => undefined);
    });
    await ready(deps.hub);
    if (res.destroyed) return;

    const sse = new SseResponse(res);
    let lastSent: [bigint, bigint] | undefined;
    const send = (entry: UserEntry) => {
      const id = parseStreamId(entry.id);
      if (!id || (lastSent && !after(id, lastSent))) return;
      lastSent = id;
      sse.event(entry.type, entry.data, entry.id);
    };
    // Live entries that arrive while the replay is read wait, so that none is lost or sent twice.
    const live = heldUntilReleased(send);
    unsubscribe = deps.hub.subscribeUser(identity.userId, live.push);
    heartbeat = setInterval(() => {
      sse.comment('heartbeat');
      deps.slots.renew(identity.userId, streamId).then(
        (held) => held || sse.close(),
        (error: unknown) => deps.logger.warn('stream lease renewal failed', { error: (error as Error).message }),
      );
    }, deps.heartbeatMs);

    sse.retry(RETRY_MS);
    if (lastEventId !== undefined) {
      try {
        await replay(deps, identity.userId, lastEventId, send, (reason) =>
          sse.event('resync', JSON.stringify({ reason })),
        );
      } catch (error) {
        deps.logger.warn('stream replay failed', { error: (error as Error).message });
        sse.event('resync', JSON.stringify({ reason: 'REPLAY_FAILED' }));
      }
    }
    live.release();
  });

  router.get('/api/v1/stream/orderbook', async (req, res) => {
    const { asset, fiatCurrency } = req.query;
    const errors = [
      ...(typeof asset === 'string' && MARKET_PART.test(asset)
        ? []
        : [{ path: 'asset', message: 'an asset code such as BTC' }]),
      ...(typeof fiatCurrency === 'string' && MARKET_PART.test(fiatCurrency)
        ? []
        : [{ path: 'fiatCurrency', message: 'a currency code such as EUR' }]),
    ];
    if (errors.length > 0) throw validationFailed(errors);
    await ready(deps.hub);
    const market = `${asset as string}:${fiatCurrency as string}`;
    let sse: SseResponse | undefined;
    let sequence = -1;
    // Snapshots stored while the book is read wait; once it is sent, only newer ones go out.
    const live = heldUntilReleased((entry: BookEntry) => {
      if (!(entry.sequence > sequence)) return;
      sequence = entry.sequence;
      sse?.event('book', entry.data, String(entry.sequence));
    });
    const unsubscribe = deps.hub.subscribeBook(market, live.push);
    res.once('close', unsubscribe);
    let snapshot: { status: number; body: unknown };
    try {
      snapshot = await readBook(deps, asset as string, fiatCurrency as string);
    } catch (error) {
      unsubscribe();
      throw error;
    }
    if (snapshot.status !== 200) {
      unsubscribe();
      return void res.status(snapshot.status).type('application/problem+json').json(snapshot.body);
    }
    if (res.destroyed) return;
    const opened = new SseResponse(res);
    sse = opened;
    sequence = Number((snapshot.body as { sequence?: unknown }).sequence ?? -1);
    opened.event('snapshot', JSON.stringify(snapshot.body), String(sequence));
    const heartbeat = setInterval(() => opened.comment('heartbeat'), deps.heartbeatMs);
    res.once('close', () => clearInterval(heartbeat));
    live.release();
  });

  return router;
}

/** Entries held back while a stream's start is read, then sent in order; after release(), each is sent as it comes. */
function heldUntilReleased<T>(send: (entry: T) => void): { push: (entry: T) => void; release: () => void } {
  let held: T[] | undefined = [];
  return {
    push: (entry) => (held ? void held.push(entry) : send(entry)),
    release() {
      const waiting = held ?? [];
      held = undefined;
      for (const entry of waiting) send(entry);
    },
  };
}

/**
 * Who a user stream or ticket is for: a session, or an API key with `read`. A ticket is read only when the request
 * carries no credentials of its own.
 */
function streamIdentity(identity: Identity | undefined, ticketGiven = false): Identity {
  if (!identity)
    throw unauthorized(
      ticketGiven
        ? 'The stream ticket is unknown, expired or already used.'
        : 'Live updates need a bearer token, an API key or a stream ticket.',
      ticketGiven ? 'STREAM.INVALID_TICKET' : 'AUTH.UNAUTHORIZED',
    );
  if (identity.scopes && !identity.scopes.includes('read'))
    throw forbidden('This API key lacks the "read" scope.', 'AUTH.SCOPE_MISSING');
  return identity;
}

async function ready(hub: StreamHub): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(gatewayErrors.streamUnavailable()), READY_TIMEOUT_MS);
  });
  try {
    await Promise.race([hub.ready(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Sends the user's events after `lastEventId` from their own stream. An id older than the retention (events after
 * it may be gone), a malformed one, or more than REPLAY_MAX events behind: a `resync` event instead, and the
 * client re-reads its state over REST.
 */
async function replay(
  deps: StreamRoutesDeps,
  userId: string,
  lastEventId: string,
  send: (entry: UserEntry) => void,
  resync: (reason: string) => void,
): Promise<void> {
  const last = parseStreamId(lastEventId);
  if (!last) return resync('UNKNOWN_EVENT_ID');
  if (Number(last[0]) < Date.now() - LIVE_RETENTION_MS) return resync('RETENTION_PASSED');
  const key = liveKeys.user(deps.prefix, userId);
  // Entries after the client's last one were trimmed (by age or by the per-user cap): it cannot be caught up.
  const trimmedUpTo = parseStreamId(await maxDeletedId(deps.redis, key));
  if (trimmedUpTo && after(trimmedUpTo, last)) return resync('TOO_FAR_BEHIND');
  const entries = await deps.redis.xrange(key, `(${lastEventId}`, '+', 'COUNT', REPLAY_MAX + 1);
  if (entries.length > REPLAY_MAX) return resync('TOO_FAR_BEHIND');
  for (const [id, fields] of entries) {
    const f = fieldsOf(fields);
    if (f.t !== undefined && f.d !== undefined) send({ id, type: f.t, data: f.d });
  }
}

/** The highest id trimmed from a stream (Redis 7's XINFO STREAM max-deleted-entry-id); '0-0' when none or no stream. */
async function maxDeletedId(redis: Redis, key: string): Promise<string> {
  try {
    const info = (await redis.xinfo('STREAM', key)) as unknown[];
    const index = info.indexOf('max-deleted-entry-id');
    return index >= 0 ? String(info[index + 1]) : '0-0';
  } catch {
    return '0-0'; // no such stream: the user had no events within the retention
  }
}

/** The market's book as GET /api/v1/orderbook answers it, from an order-book replica. */
async function readBook(deps: StreamRoutesDeps, asset: string, fiatCurrency: string) {
  const upstream = deps.upstreams.pools['order-book'].pick();
  if (!upstream) throw gatewayErrors.noHealthyUpstream();
  const query = new URLSearchParams({ asset, fiatCurrency }).toString();
  try {
    return await requestJson(`${upstream.url}/api/v1/orderbook?${query}`, {
      agent: upstream.agents.read,
      timeoutMs: deps.timeoutMs,
    });
  } catch {
    throw gatewayErrors.upstreamUnavailable();
  }
}
