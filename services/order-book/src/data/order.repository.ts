import { ASSET_SCALES, FIAT_SCALE, numericUnits, type Asset, type FiatCurrency } from '@orrange/money';
import type { SqlRunner, Tx } from '@orrange/db';
import {
  buyerRoomExpression,
  buyerStandingCall,
  ledgerOutcomes,
  openTradesExpression,
  placeSellHoldsExpression,
  queryTogether,
  tradeOpeningsJson,
  type FunctionCall,
  type LedgerOutcome,
  type TradeOpening,
} from '@orrange/queue';
import type { BuyerLimits, BuyerStanding } from '../domain/limits';
import type { Order, OrderStatus, Side } from '../domain/order';
import { CANCELLABLE_STATUSES, formatAmount, formatPrice } from '../domain/order';

/**
 * SQL of the order book. Hot paths are raw SQL with as few round trips as possible: each function here is
 * one round trip (one statement, or two sent together). All money crosses as decimal strings (NUMERIC in
 * Postgres, bigint minor units in code).
 */

/**
 * Money and sequence numbers leave Postgres as text. An ORDER BY must name the table's columns (`orders.price`):
 * a bare `price` or `seq` would be the text output column of that name, which sorts '9.00' after '10.00'.
 */
const ORDER_COLUMNS = `id, user_id, side, asset, fiat_currency, price::text AS price, amount::text AS amount, remaining::text AS remaining,
  min_fill::text AS min_fill, payment_methods, payment_window_minutes, terms, min_fiat::text AS min_fiat, max_fiat::text AS max_fiat, expires_at, paused, merchant,
  payment_method_ids::text[] AS payment_method_ids, status, reject_reason, seq::text AS seq, created_at, updated_at`;

interface OrderRow {
  id: string;
  user_id: string;
  side: Side;
  asset: Asset;
  fiat_currency: FiatCurrency;
  price: string;
  amount: string;
  remaining: string;
  min_fill: string;
  payment_methods: string[];
  payment_window_minutes: number;
  terms: string | null;
  min_fiat: string | null;
  max_fiat: string | null;
  expires_at: Date | null;
  paused: boolean;
  merchant: boolean;
  payment_method_ids: string[];
  status: OrderStatus;
  reject_reason: string | null;
  seq: string;
  created_at: Date;
  updated_at: Date;
}

function toOrder(row: OrderRow): Order {
  const scale = ASSET_SCALES[row.asset];
  return {
    id: row.id,
    userId: row.user_id,
    side: row.side,
    asset: row.asset,
    fiatCurrency: row.fiat_currency,
    price: numericUnits(row.price, FIAT_SCALE),
    amount: numericUnits(row.amount, scale),
    remaining: numericUnits(row.remaining, scale),
    minFill: numericUnits(row.min_fill, scale),
    paymentMethods: row.payment_methods,
    paymentWindowMinutes: row.payment_window_minutes,
    terms: row.terms,
    minFiat: row.min_fiat === null ? null : numericUnits(row.min_fiat, FIAT_SCALE),
    maxFiat: row.max_fiat === null ? null : numericUnits(row.max_fiat, FIAT_SCALE),
    expiresAt: row.expires_at,
    paused: row.paused,
    merchant: row.merchant,
    paymentMethodIds: row.payment_method_ids,
    status: row.status,
    rejectReason: row.reject_reason,
    seq: BigInt(row.seq),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** What lockAndLoadOrder brings back: the order (row-locked, read once the market lock was granted), and the rows of the statements sent ahead and behind. */
export interface LockedOrder {
  order: Order | undefined;
  ahead: unknown[][];
  behind: unknown[][];
}

/**
 * Takes the market lock of an existing order and loads it row-locked, in one round trip, after `ahead` (e.g. the
 * claim of an Idempotency-Key) and before `behind` (e.g. reading a buyer's standing, which then sees what the
 * market's previous holder committed). The load is sent together with the lock and runs once it is granted, so it
 * sees what the previous holder committed: every field may be trusted.
 */
export async function lockAndLoadOrder(
  tx: SqlRunner,
  orderId: string,
  ahead: Array<{ sql: string; params: unknown[] }> = [],
  behind: Array<{ sql: string; params: unknown[] }> = [],
): Promise<LockedOrder> {
  const results = await queryTogether(tx, [
    ...ahead,
    {
      sql: `SELECT pg_advisory_xact_lock(hashtext(asset || '/' || fiat_currency)) AS locked FROM orders WHERE id = $1`,
      params: [orderId],
    },
    { sql: `SELECT ${ORDER_COLUMNS} FROM orders WHERE id = $1 FOR UPDATE`, params: [orderId] },
    ...behind,
  ]);
  const [row] = results[ahead.length + 1] as unknown as OrderRow[];
  return {
    order: row ? toOrder(row) : undefined,
    ahead: results.slice(0, ahead.length),
    behind: results.slice(ahead.length + 2),
  };
}

const bumpSequenceSql = (
  asset: string,
  fiatCurrency: string,
) => `INSERT INTO markets (asset, fiat_currency, sequence, updated_at) VALUES (${asset}, ${fiatCurrency}, 1, now())
  ON CONFLICT (asset, fiat_currency) DO UPDATE SET sequence = markets.sequence + 1, updated_at = now() RETURNING sequence::text AS sequence`;

export interface CandidateQuery {
  asset: Asset;
  fiatCurrency: FiatCurrency;
  /** The incoming order's side; candidates are of the other side. */
  side: Side;
  limitPrice: bigint;
  userId: string;
  paymentMethods: string[];
  limit: number;
  /** The caller's transaction already holds the market lock (taking it again would cost a statement). */
  marketLocked?: boolean;
  /**
   * For an incoming SELL, whose candidates are buyers: their limits, so that each candidate comes with how many more
   * trades its owner may open (trade-execution's buyer_room, read in the same statement).
   */
  buyerLimits?: BuyerLimits;
}

/** What candidate reads bring back: per query, the candidates and their owners' room for trades as buyers (SELL incoming); and the rows of the statements sent ahead of them. */
export interface CandidateReads {
  reads: Array<{ candidates: Order[]; rooms: Map<string, number> }>;
  ahead: unknown[][];
}

/**
 * Takes the market lock (unless every query says it is held), runs `ahead` (e.g. the holds of incoming SELL orders),
 * then for each query loads the best `limit` resting orders of the other side that cross the limit price, belong to
 * someone else and share a payment method, best price first, then oldest. One round trip: under READ COMMITTED a
 * statement sees what was committed before IT started, and the reads, sent together with the lock, start only once
 * the lock is granted, so they see every order the previous holder committed.
 */
export async function lockAndLoadCandidates(
  tx: SqlRunner,
  queries: CandidateQuery[],
  ahead: Array<{ sql: string; params: unknown[] }> = [],
): Promise<CandidateReads> {
  const reads = queries.map(candidateRead);
  const first = queries[0]!;
  const lock = queries.every((q) => q.marketLocked)
    ? []
    : [
        {
          sql: 'SELECT pg_advisory_xact_lock(hashtext($1)) AS locked',
          params: [`${first.asset}/${first.fiatCurrency}`],
        },
      ];
  const statements = [...lock, ...ahead, ...reads];
  const results =
    statements.length === 1 ? [await tx.query(reads[0]!.sql, reads[0]!.params)] : await queryTogether(tx, statements);
  const rowsOf = results.slice(lock.length + ahead.length) as unknown as Array<
    Array<OrderRow & { buyer_room?: number }>
  >;
  return {
    reads: rowsOf.map((rows, i) => ({
      candidates: rows.map(toOrder),
      rooms: new Map(reads[i]!.roomed ? rows.map((r) => [r.user_id, r.buyer_room!]) : []),
    })),
    ahead: results.slice(lock.length, lock.length + ahead.length),
  };
}

/** One query's read (see lockAndLoadCandidates); `roomed` when its rows carry their owners' buyer_room. */
function candidateRead(q: CandidateQuery): { sql: string; params: unknown[]; roomed: boolean } {
  const incomingBuys = q.side === 'BUY';
  const limits = !incomingBuys && q.buyerLimits ? q.buyerLimits : undefined;
  // Only the rows the LIMIT lets through are projected, so buyer_room runs once per candidate returned.
  const room = limits
    ? `, ${buyerRoomExpression('user_id', 'CASE WHEN merchant THEN $9::int ELSE $8::int END', '$10::int')} AS buyer_room`
    : '';
  return {
    sql: `SELECT ${ORDER_COLUMNS}${room} FROM orders
          WHERE asset = $1 AND fiat_currency = $2 AND side = $3 AND live AND price ${incomingBuys ? '<=' : '>='} $4::numeric
            AND user_id <> $5 AND payment_methods && $6::text[]
          ORDER BY orders.asset, orders.fiat_currency, orders.side, orders.live, orders.price ${incomingBuys ? 'ASC' : 'DESC'}, orders.seq ASC
          LIMIT $7`,
    params: [
      q.asset,
      q.fiatCurrency,
      incomingBuys ? 'SELL' : 'BUY',
      formatPrice(q.limitPrice),
      q.userId,
      q.paymentMethods,
      q.limit,
      ...(limits ? [limits.tradesMax, limits.merchantTradesMax, limits.cancelsMax] : []),
    ],
    roomed: limits !== undefined,
  };
}

/**
 * The first statement of a placement, sent with the market lock and the candidate reads: reads the owners' rows of
 * user_order_counts (created at their first order) and admits, in arrival order, each order whose owner stays within
 * their open-order limit (`ordersMax` per order, from their role). The rows are not locked here: a lock held from this
 * statement to the commit made every fill of a maker wait for whatever that maker was placing in another market
 * (measured: at 200 orders/s over 8 markets, p99 1.2 s and 503s instead of 450 ms). The limit is kept exactly at the
 * write instead: `caps` go into the transaction's settings, and the trigger that counts an inserted open order refuses
 * one past its owner's cap with 40001, so a placement that raced another market's runs again and then reads the count
 * that one committed. It also places the admitted SELL orders' holds (trade-execution's place_sell_holds, `holdsJson`
 * one per SELL order, in order) and reads the BUY orders' owners' standing (trade-execution's
 * buyer_standing), without a lock for the same reason: the trades' openings carry the caps they were decided with,
 * and open_trades refuses a buyer past theirs. One row: `admitted` (boolean per order), `outcomes` (a LedgerOutcome
 * per admitted SELL), `standing` (per buyer that has a row).
 */
export function admissionStatement(
  orders: Array<{ userId: string; side: Side; ordersMax: number }>,
  holdsJson: string,
  cancelsMax: number,
  caps: { ordersMax: number; merchantOrdersMax: number },
): { sql: string; params: unknown[] } {
  const requests = JSON.stringify(orders.map((o) => ({ userId: o.userId, side: o.side, ordersMax: o.ordersMax })));
  const params: unknown[] = [requests, caps.ordersMax, caps.merchantOrdersMax];
  // A batch of one side calls only its side's function, and sends only its parameters.
  const holds = orders.some((o) => o.side === 'SELL')
    ? placeSellHoldsExpression(
        `(SELECT jsonb_agg($${params.push(holdsJson)}::jsonb -> (r.side_n - 1)::int ORDER BY r.n) FROM ranked r WHERE r.admitted AND r.side = 'SELL')`,
      )
    : 'ARRAY[]::text[]';
  const standing = orders.some((o) => o.side === 'BUY')
    ? `(SELECT coalesce(jsonb_agg(jsonb_build_object('userId', s.user_id, 'openTrades', s.open_trades, 'suspendedUntil', s.suspended_until)), '[]'::jsonb)
        FROM ${buyerStandingCall(`ARRAY(SELECT DISTINCT doc->>'userId' FROM req WHERE doc->>'side' = 'BUY')`, `$${params.push(cancelsMax)}::int`)} s)`
    : `'[]'::jsonb`;
  return {
    sql: `WITH req AS (SELECT e.doc, e.n FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(doc, n)),
       users AS (SELECT DISTINCT doc->>'userId' AS user_id FROM req),
       created AS (INSERT INTO user_order_counts (user_id) SELECT user_id FROM users ORDER BY 1 ON CONFLICT DO NOTHING RETURNING user_id, open_orders),
       existing AS (SELECT c.user_id, c.open_orders FROM user_order_counts c WHERE c.user_id IN (SELECT user_id FROM users)),
       counts AS (SELECT user_id, open_orders FROM existing UNION ALL SELECT user_id, open_orders FROM created),
       ranked AS (
         SELECT r.n, r.doc->>'side' AS side, row_number() OVER (PARTITION BY r.doc->>'side' ORDER BY r.n) AS side_n, coalesce((SELECT max(c.open_orders) FROM counts c WHERE c.user_id = r.doc->>'userId'), 0)
                + row_number() OVER (PARTITION BY r.doc->>'userId' ORDER BY r.n) <= (r.doc->>'ordersMax')::int AS admitted
         FROM req r)
     SELECT (SELECT array_agg(r.admitted ORDER BY r.n) FROM ranked r) AS admitted, ${holds} AS outcomes, ${standing} AS standing,
       set_config('orrange.orders_open_max', $2::text, true) AS orders_cap, set_config('orrange.merchant_orders_open_max', $3::text, true) AS merchant_orders_cap`,
    params,
  };
}

export interface Admission {
  admitted: boolean[];
  /** place_sell_holds' outcome per admitted SELL order, in order. */
  outcomes: unknown;
  /** The BUY orders' owners that have a standing row. */
  standing: Array<{ userId: string; openTrades: number; suspendedUntil: string | null }>;
}

/** Rows `(user_id, open_trades, suspended_until)` of the buyers named (trade-execution's buyer_standing): see standingOf. */
const standingSql = (userIdsExpression: string, cancelsMaxExpression: string) =>
  `SELECT user_id, open_trades, suspended_until FROM ${buyerStandingCall(userIdsExpression, cancelsMaxExpression)}`;

/** The standing of both possible buyers of a take (the taker, and the ad's owner), sent behind the market lock in the take's first round trip. */
export function takeStandingStatement(takerId: string, orderId: string, cancelsMax: number): FunctionCall {
  return {
    sql: standingSql('ARRAY[$1::text, (SELECT user_id FROM orders WHERE id = $2::uuid)]', '$3::int'),
    params: [takerId, orderId, cancelsMax],
  };
}

/**
 * The types of a user's saved payment methods among `ids` (user service's payment_method_types): a SELL that names
 * paymentMethodIds without paymentMethods takes these. Ids that are not the user's are not answered.
 */
export async function paymentMethodTypes(
  db: SqlRunner,
  userId: string,
  ids: string[],
): Promise<Array<{ id: string; type: string }>> {
  return db.query<{ id: string; type: string }>(
    'SELECT id::text AS id, type FROM users.payment_method_types($1, $2::text[])',
    [userId, ids],
  );
}

/** One buyer's standing among the rows of a standing statement (none: no trades yet). */
export function standingOf(rows: unknown[], userId: string): BuyerStanding | undefined {
  const row = (rows as Array<{ user_id: string; open_trades: number; suspended_until: Date | null }>).find(
    (r) => r.user_id === userId,
  );
  return row && { openTrades: row.open_trades, suspendedUntil: row.suspended_until };
}

/** A match as stored: one fill, one trade. A taker who took an ad directly has no order (`takerOrderId` null). */
export interface MatchRecord {
  id: string;
  tradeId: string;
  makerOrderId: string;
  takerOrderId: string | null;
  buyOrderId: string | null;
  sellOrderId: string | null;
  buyerId: string;
  sellerId: string;
  asset: Asset;
  fiatCurrency: FiatCurrency;
  price: bigint;
  amount: bigint;
  paymentMethod: string;
  paymentWindowMinutes: number;
  sellerFunding: 'HOLD' | 'AVAILABLE';
  /** The SELL order's named saved payment methods (none for a seller who took a BUY ad). */
  paymentMethodIds: string[];
  /** Whether the buyer has the merchant role (their BUY order's, or the taker's): it sets their open-trade cap. */
  buyerMerchant: boolean;
}

/**
 * What a matching or take transaction writes about the orders that came in, if any: new orders are inserted;
 * orders written by an earlier round of the same transaction that stopped at the fill cap and match again
 * (`continue`) get their new remainder and status, guarded by the remainder they had.
 */
export type IncomingWrite =
  | { kind: 'none' }
  | { kind: 'insert'; orders: Order[] }
  | { kind: 'continue'; orders: Array<{ order: Order; previousRemaining: bigint }> };

export interface WriteResult {
  sequence: bigint;
  /** What open_trades answered for each match, in order. */
  trades: LedgerOutcome[];
}

export interface WriteOptions {
  /** Every match's trade must open (its escrow comes from a hold that holds it): anything else fails the statement. */
  tradesMustOpen: boolean;
  /**
   * When the write goes: in a round trip of its own (the default); with the transaction's COMMIT (the body sends
   * nothing after it); or at the head of the transaction's next round trip (Tx.sendWithNext), whose statements see
   * what it wrote: the result settles with that round trip.
   */
  send?: 'alone' | 'withCommit' | 'withNext';
}

/**
 * One round trip: inserts the incoming orders (if any, with what they have left after every fill of the batch),
 * reduces every maker in the book already by the sum of its fills, records the matches, opens their trades through
 * trade-execution's open_trades (escrow locked, in this same transaction), and raises the market's sequence. The
 * statement refuses itself (write_guard, so nothing of it commits) when a maker's guard failed (`live AND remaining
 * >= total`: never an overfill), when an incoming order was not written or lost other than its fills in this write
 * (as taker, or as maker of a later order of its batch), or, with `tradesMustOpen`, when a trade did not open; so it
 * may go with the COMMIT, or ahead of the transaction's next statements (`send`). The trades' outcomes come back in
 * match order.
 */
export async function writeMatches(
  tx: Tx,
  market: { asset: Asset; fiatCurrency: FiatCurrency },
  incoming: IncomingWrite,
  matches: MatchRecord[],
  openings: TradeOpening[],
  options: WriteOptions,
): Promise<WriteResult> {
  const incomingOrders =
    incoming.kind === 'insert'
      ? incoming.orders
      : incoming.kind === 'continue'
        ? incoming.orders.map((c) => c.order)
        : [];
  // A maker that came in with this write (an order of the batch that rested, then a later one took from it) is
  // inserted with what it has left: only the makers in the book already are updated.
  const incomingIds = new Set(incomingOrders.map((o) => o.id));
  const makers = [...new Set(matches.map((m) => m.makerOrderId))].filter((id) => !incomingIds.has(id));
  const previous = new Map(
    incoming.kind === 'continue'
      ? incoming.orders.map((c) => [c.order.id, formatAmount(c.order.asset, c.previousRemaining)])
      : [],
  );
  const params: unknown[] = [
    JSON.stringify(matches.map((m) => matchJson(m))),
    tradeOpeningsJson(openings),
    market.asset,
    market.fiatCurrency,
    // The makers' ids again, as an array: joined only to jsonb_to_recordset (which the planner takes for 100
    // rows), "orders" would be read by a sequential scan of the whole table; `id = ANY(...)` lets the statement
    // find its rows through the primary key whatever the book's history.
    makers,
    JSON.stringify(
      incomingOrders.map((o) => ({
        id: o.id,
        user_id: o.userId,
        side: o.side,
        asset: o.asset,
        fiat_currency: o.fiatCurrency,
        price: formatPrice(o.price),
        amount: formatAmount(o.asset, o.amount),
        remaining: formatAmount(o.asset, o.remaining),
        min_fill: formatAmount(o.asset, o.minFill),
        payment_methods: o.paymentMethods,
        payment_window_minutes: o.paymentWindowMinutes,
        terms: o.terms,
        status: o.status,
        created_at: o.createdAt.toISOString(),
        updated_at: o.updatedAt.toISOString(),
        min_fiat: o.minFiat === null ? null : formatPrice(o.minFiat),
        max_fiat: o.maxFiat === null ? null : formatPrice(o.maxFiat),
        expires_at: o.expiresAt?.toISOString() ?? null,
        merchant: o.merchant,
        payment_method_ids: o.paymentMethodIds,
        previous_remaining: previous.get(o.id) ?? null,
      })),
    ),
    makers.length,
    incomingOrders.length,
    options.tradesMustOpen,
  ];
  const sql = `WITH bump AS (${bumpSequenceSql('$3', '$4')}), m AS (
       SELECT * FROM jsonb_to_recordset($1::jsonb) AS m(id uuid, trade_id uuid, maker_order_id uuid, taker_order_id uuid, buy_order_id uuid, sell_order_id uuid,
         buyer_id text, seller_id text, asset text, fiat_currency text, price numeric, amount numeric, payment_method text, payment_window_minutes int, seller_funding text)
     ), per_maker AS (
       SELECT maker_order_id, sum(amount) AS amount FROM m GROUP BY maker_order_id
     ), makers AS (
       UPDATE orders o SET remaining = o.remaining - f.amount,
         status = CASE WHEN o.remaining = f.amount THEN 'FILLED' ELSE 'PARTIALLY_FILLED' END,
         live = o.remaining > f.amount, updated_at = now()
       FROM per_maker f WHERE o.id = f.maker_order_id AND o.id = ANY($5::uuid[]) AND ${LIVE_BY_STATUS} AND o.remaining >= f.amount
       RETURNING o.id
     ), ins_matches AS (
       INSERT INTO matches (id, trade_id, maker_order_id, taker_order_id, buy_order_id, sell_order_id, buyer_id, seller_id, asset, fiat_currency, price, amount,
         payment_method, payment_window_minutes, seller_funding)
       SELECT id, trade_id, maker_order_id, taker_order_id, buy_order_id, sell_order_id, buyer_id, seller_id, asset, fiat_currency, price, amount,
         payment_method, payment_window_minutes, seller_funding FROM m
     ), incoming AS (${incoming.kind === 'continue' ? CONTINUE_INCOMING_SQL : INSERT_INCOMING_SQL}
     ), trades AS (SELECT ${openTradesExpression('$2')} AS outcomes)
     SELECT (SELECT sequence FROM bump) AS sequence, t.outcomes AS trades,
       write_guard((SELECT count(*) FROM makers) = $7 AND (SELECT count(*) FROM incoming) = $8,
         'matching write guard failed in ' || $3 || '/' || $4 || ': a maker had less left than its fills, or an order was not written') AS written,
       write_guard(NOT EXISTS (
         SELECT 1 FROM jsonb_to_recordset($6::jsonb) AS r(id uuid, amount numeric, remaining numeric, previous_remaining numeric)
         WHERE coalesce(r.previous_remaining, r.amount) - r.remaining
               <> coalesce((SELECT sum(x.amount) FROM m x WHERE r.id IN (x.taker_order_id, x.maker_order_id)), 0)),
         'matching write guard failed in ' || $3 || '/' || $4 || ': an incoming order''s remainder does not match its fills') AS balanced,
       write_guard(NOT $9::boolean OR 'OK' = ALL (t.outcomes),
         'ledger invariant: a trade of ' || $3 || '/' || $4 || ' did not open from its SELL order''s hold: ' || array_to_string(t.outcomes, ',')) AS opened
     FROM trades t`;
  const sent =
    options.send === 'withCommit'
      ? tx.commitWith<WriteRow>(sql, params)
      : options.send === 'withNext'
        ? tx.sendWithNext<WriteRow>(sql, params)
        : tx.query<WriteRow>(sql, params);
  const [row] = await sent;
  return { sequence: BigInt(row!.sequence), trades: ledgerOutcomes(row!.trades, openings.length, 'open_trades') };
}

/**
 * What `live` means (orders_live_check), said without that column: the book's indexes lead to it, and a plan made
 * while "orders" was small took them for a write of known ids (walking a whole book index for "live" alone, every
 * filled order of the history, at every write: seen in the bench's statement samples); the primary key must be
 * the only way to these rows whatever the statistics say.
 */
const LIVE_BY_STATUS = `o.status IN ('OPEN', 'PARTIALLY_FILLED') AND NOT o.paused`;

const INCOMING_RECORDS = `jsonb_to_recordset($6::jsonb) AS r(id uuid, user_id text, side text, asset text, fiat_currency text, price numeric, amount numeric,
  remaining numeric, min_fill numeric, payment_methods text[], payment_window_minutes int, terms text, status text, created_at timestamptz, updated_at timestamptz,
  previous_remaining numeric, min_fiat numeric, max_fiat numeric, expires_at timestamptz, merchant boolean, payment_method_ids uuid[])`;

const INSERT_INCOMING_SQL = `
       INSERT INTO orders (id, user_id, side, asset, fiat_currency, price, amount, remaining, min_fill, payment_methods, payment_window_minutes, terms, status, live,
         min_fiat, max_fiat, expires_at, merchant, payment_method_ids, created_at, updated_at)
       SELECT id, user_id, side, asset, fiat_currency, price, amount, remaining, min_fill, payment_methods, payment_window_minutes, terms, status,
         status IN ('OPEN', 'PARTIALLY_FILLED'), min_fiat, max_fiat, expires_at, merchant, payment_method_ids, created_at, updated_at
       FROM ${INCOMING_RECORDS}
       RETURNING id`;

// An order matching again after the fill cap: only while it still has what the previous round left it.
const CONTINUE_INCOMING_SQL = `
       UPDATE orders o SET remaining = r.remaining, status = r.status, live = r.status IN ('OPEN', 'PARTIALLY_FILLED'), updated_at = now()
       FROM ${INCOMING_RECORDS}
       WHERE o.id = r.id AND o.id = ANY(SELECT (jsonb_array_elements($6::jsonb)->>'id')::uuid) AND ${LIVE_BY_STATUS} AND o.remaining = r.previous_remaining
       RETURNING o.id`;

interface WriteRow {
  sequence: string;
  trades: unknown;
}

function matchJson(m: MatchRecord) {
  return {
    id: m.id,
    trade_id: m.tradeId,
    maker_order_id: m.makerOrderId,
    taker_order_id: m.takerOrderId,
    buy_order_id: m.buyOrderId,
    sell_order_id: m.sellOrderId,
    buyer_id: m.buyerId,
    seller_id: m.sellerId,
    asset: m.asset,
    fiat_currency: m.fiatCurrency,
    price: formatPrice(m.price),
    amount: formatAmount(m.asset, m.amount),
    payment_method: m.paymentMethod,
    payment_window_minutes: m.paymentWindowMinutes,
    seller_funding: m.sellerFunding,
  };
}

/** What an owner's write of a locked order brings back: the order as written, its hold call's outcome (if one went), the market's new sequence. */
export interface OrderWritten {
  order: Order;
  holdOutcome: LedgerOutcome | undefined;
  sequence: bigint;
}

/**
 * Closes an order the caller has locked (its market and its row): CANCELLED by its owner, or EXPIRED at its
 * expiresAt; runs `hold` (the release of a SELL's hold), and raises the market's sequence: one round trip.
 */
export function closeAndBump(
  tx: SqlRunner,
  order: Order,
  status: 'CANCELLED' | 'EXPIRED',
  hold: FunctionCall | undefined,
): Promise<OrderWritten> {
  const update = {
    sql: `UPDATE orders SET status = $3, live = false, updated_at = now() WHERE id = $1 AND status = ANY($2::text[]) RETURNING ${ORDER_COLUMNS}`,
    params: [order.id, CANCELLABLE_STATUSES, status],
  };
  return writeAndBump(tx, order, update, hold, 'closed');
}

/**
 * Writes an owner's edit of an order the caller has locked (terms, limits, amount with its remainder, paused), with
 * a new time priority when `renewPriority` (a new price, a resume), runs `hold` (a SELL hold's adjustment), and
 * raises the market's sequence: one round trip.
 */
export function editAndBump(
  tx: SqlRunner,
  order: Order,
  renewPriority: boolean,
  hold: FunctionCall | undefined,
): Promise<OrderWritten> {
  const update = {
    sql: `UPDATE orders SET price = $2::numeric, amount = $3::numeric, remaining = $4::numeric, min_fill = $5::numeric, min_fiat = $6::numeric, max_fiat = $7::numeric,
            payment_methods = $8::text[], payment_method_ids = $9::uuid[], terms = $10, payment_window_minutes = $11, expires_at = $12::timestamptz, paused = $13,
            live = status IN ('OPEN', 'PARTIALLY_FILLED') AND NOT $13,
            seq = CASE WHEN $14::boolean THEN nextval(pg_get_serial_sequence('orders', 'seq')) ELSE seq END, updated_at = now()
          WHERE id = $1 AND status IN ('OPEN', 'PARTIALLY_FILLED') RETURNING ${ORDER_COLUMNS}`,
    params: [
      order.id,
      formatPrice(order.price),
      formatAmount(order.asset, order.amount),
      formatAmount(order.asset, order.remaining),
      formatAmount(order.asset, order.minFill),
      order.minFiat === null ? null : formatPrice(order.minFiat),
      order.maxFiat === null ? null : formatPrice(order.maxFiat),
      order.paymentMethods,
      order.paymentMethodIds,
      order.terms,
      order.paymentWindowMinutes,
      order.expiresAt?.toISOString() ?? null,
      order.paused,
      renewPriority,
    ],
  };
  return writeAndBump(tx, order, update, hold, 'edited');
}

/** The owner's write of a locked order, its hold's call and the sequence bump, in one round trip. */
async function writeAndBump(
  tx: SqlRunner,
  order: Order,
  update: FunctionCall,
  hold: FunctionCall | undefined,
  what: string,
): Promise<OrderWritten> {
  const results = await queryTogether(tx, [
    update,
    ...(hold ? [hold] : []),
    { sql: bumpSequenceSql('$1', '$2'), params: [order.asset, order.fiatCurrency] },
  ]);
  const [row] = results[0] as unknown as OrderRow[];
  if (!row) throw new Error(`order ${order.id}: locked as ${order.status} but not ${what}`);
  const holdOutcome = hold
    ? ledgerOutcomes(
        (results[1] as Array<{ outcome: unknown }>).map((r) => r.outcome),
        1,
        `the hold of order ${order.id}`,
      )[0]
    : undefined;
  const [bumped] = results[results.length - 1] as unknown as Array<{ sequence: string }>;
  return { order: toOrder(row), holdOutcome, sequence: BigInt(bumped!.sequence) };
}

/** The standing of the owner of a BUY order that is being edited, sent behind the order's locks; a SELL's owner is not read. */
export function editStandingStatement(orderId: string, userId: string, cancelsMax: number): FunctionCall {
  return {
    sql: standingSql(
      `ARRAY(SELECT user_id FROM orders WHERE id = $1::uuid AND user_id = $2 AND side = 'BUY')`,
      '$3::int',
    ),
    params: [orderId, userId, cancelsMax],
  };
}

/** Orders past their expiresAt that are still open, most overdue first (orders_expiry_idx), leaving out `skipped`. */
export async function dueExpiredOrderIds(db: SqlRunner, limit: number, skipped: string[] = []): Promise<string[]> {
  const rows = await db.query<{ id: string }>(
    `SELECT id FROM orders WHERE expires_at IS NOT NULL AND expires_at <= now() AND status IN ('PENDING_FUNDS', 'OPEN', 'PARTIALLY_FILLED')
       AND NOT (id::text = ANY($2::text[])) ORDER BY expires_at LIMIT $1`,
    [limit, skipped],
  );
  return rows.map((r) => r.id);
}

/** Reads one order; `forUpdate` also takes its row lock. */
export async function findOrder(tx: SqlRunner, id: string, forUpdate = false): Promise<Order | undefined> {
  const rows = await tx.query<OrderRow>(
    `SELECT ${ORDER_COLUMNS} FROM orders WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`,
    [id],
  );
  return rows[0] ? toOrder(rows[0]) : undefined;
}

export interface ListQuery {
  asset: Asset;
  fiatCurrency: FiatCurrency;
  side?: Side;
  paymentMethod?: string;
  minAmount?: string;
  limit: number;
  after?: { side: Side; price: string; seq: string };
}

/**
 * Resting orders of a market, best price first per side (asks cheapest first, bids highest first, then
 * oldest), BUY side before SELL when both are asked for. Keyset pagination on (side, price, seq).
 */
export async function listOpenOrders(db: SqlRunner, q: ListQuery): Promise<Order[]> {
  const params: unknown[] = [q.asset, q.fiatCurrency, q.limit];
  const where = ['asset = $1', 'fiat_currency = $2', 'live'];
  const add = (sql: (n: string) => string, value: unknown) => {
    params.push(value);
    where.push(sql(`$${params.length}`));
  };
  if (q.side) add((p) => `side = ${p}`, q.side);
  if (q.paymentMethod) add((p) => `${p} = ANY(payment_methods)`, q.paymentMethod);
  if (q.minAmount) add((p) => `remaining >= ${p}::numeric`, q.minAmount);
  if (q.after) {
    params.push(q.after.side, q.after.price, q.after.seq);
    const [s, p, n] = [params.length - 2, params.length - 1, params.length].map((i) => `$${i}`);
    where.push(
      `(side > ${s} OR (side = ${s} AND (CASE WHEN side = 'BUY' THEN price < ${p}::numeric ELSE price > ${p}::numeric END OR (price = ${p}::numeric AND seq > ${n}::bigint))))`,
    );
  }
  const rows = await db.query<OrderRow>(
    `SELECT ${ORDER_COLUMNS} FROM orders WHERE ${where.join(' AND ')}
     ORDER BY ${q.side ? `orders.price ${q.side === 'BUY' ? 'DESC' : 'ASC'}, orders.seq ASC` : `orders.side ASC, CASE WHEN orders.side = 'BUY' THEN -orders.price ELSE orders.price END ASC, orders.seq ASC`} LIMIT $3`,
    params,
  );
  return rows.map(toOrder);
}

/** The caller's own orders, newest first, optionally of one status. Keyset pagination on seq. */
export async function listUserOrders(
  db: SqlRunner,
  userId: string,
  status: OrderStatus | undefined,
  limit: number,
  beforeSeq?: string,
): Promise<Order[]> {
  const rows = await db.query<OrderRow>(
    `SELECT ${ORDER_COLUMNS} FROM orders WHERE user_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::bigint IS NULL OR seq < $3::bigint)
     ORDER BY orders.seq DESC LIMIT $4`,
    [userId, status ?? null, beforeSeq ?? null, limit],
  );
  return rows.map(toOrder);
}

export interface BookLevelRow {
  price: string;
  amount: string;
  orderCount: number;
}

export interface BookSnapshotRow {
  sequence: string;
  updatedAt: string | null;
  bids: BookLevelRow[];
  asks: BookLevelRow[];
}

/**
 * The aggregated book of one market (best `depth` price levels per side) with its sequence, read in one
 * statement so that levels and sequence come from the same snapshot. Walks the book indexes only.
 */
export async function readBookSnapshot(
  db: SqlRunner,
  asset: Asset,
  fiatCurrency: FiatCurrency,
  depth: number,
): Promise<BookSnapshotRow> {
  const levels = (side: Side, order: 'ASC' | 'DESC') => `
    (SELECT COALESCE(jsonb_agg(jsonb_build_object('price', l.price::text, 'amount', l.amount::text, 'orderCount', l.n) ORDER BY l.price ${order}), '[]'::jsonb)
     FROM (SELECT price, sum(remaining) AS amount, count(*)::int AS n FROM orders
           WHERE asset = $1 AND fiat_currency = $2 AND side = '${side}' AND live GROUP BY price ORDER BY price ${order} LIMIT $3) l)`;
  const [row] = await db.query<{
    sequence: string | null;
    updated_at: Date | null;
    bids: BookLevelRow[];
    asks: BookLevelRow[];
  }>(
    `SELECT (SELECT sequence::text FROM markets WHERE asset = $1 AND fiat_currency = $2) AS sequence,
            (SELECT updated_at FROM markets WHERE asset = $1 AND fiat_currency = $2) AS updated_at,
            ${levels('BUY', 'DESC')} AS bids, ${levels('SELL', 'ASC')} AS asks`,
    [asset, fiatCurrency, depth],
  );
  return {
    sequence: row!.sequence ?? '0',
    updatedAt: row!.updated_at ? row!.updated_at.toISOString() : null,
    bids: row!.bids,
    asks: row!.asks,
  };
}

/** A maker's public stats (API.md `order.maker`), from the user service's maker_public_stats. */
export interface MakerStats {
  id: string;
  username: string;
  tradesCompleted: number;
  completionRate: string | null;
  avgReleaseSeconds: number | null;
}

/** What public reads of ads add from the user service: the makers' public stats, and per SELL ad whether its trades get payment details. */
export interface AdExtras {
  /** Users unknown there are left out. */
  makers: Map<string, MakerStats>;
  /** SELL ads only (BUY ads are not asked: their takers sell and bring their own details). */
  onFile: Map<string, boolean>;
}

/**
 * The extras of a page of ads in one statement: the user service's maker_public_stats for their makers, and its
 * payment_details_on_file for the SELL ads (whether their trades would get the seller's payment details).
 */
export async function adExtras(db: SqlRunner, ads: Order[]): Promise<AdExtras> {
  if (ads.length === 0) return { makers: new Map(), onFile: new Map() };
  const sells = ads
    .filter((a) => a.side === 'SELL')
    .map((a) => ({ adId: a.id, sellerId: a.userId, paymentMethods: a.paymentMethods, methodIds: a.paymentMethodIds }));
  const [row] = await db.query<{
    makers: Array<{
      id: string;
      username: string;
      trades_completed: number;
      completion_rate: string | null;
      avg_release_seconds: number | null;
    }>;
    on_file: Record<string, boolean>;
  }>(
    `SELECT (SELECT coalesce(jsonb_agg(m), '[]'::jsonb) FROM users.maker_public_stats($1::text[]) m) AS makers,
            (SELECT coalesce(jsonb_object_agg(f.ad_id, f.on_file), '{}'::jsonb) FROM users.payment_details_on_file($2::jsonb) f) AS on_file`,
    [[...new Set(ads.map((a) => a.userId))], JSON.stringify(sells)],
  );
  const makers = row!.makers.map(
    (r): MakerStats => ({
      id: r.id,
      username: r.username,
      tradesCompleted: r.trades_completed,
      completionRate: r.completion_rate,
      avgReleaseSeconds: r.avg_release_seconds,
    }),
  );
  return { makers: new Map(makers.map((m) => [m.id, m])), onFile: new Map(Object.entries(row!.on_file)) };
}
