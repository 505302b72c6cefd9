import { randomUUID } from 'node:crypto';
import type { Database, Statement, Tx } from '@orrange/db';
import { AppError, IdempotencyKeyTaken } from '@orrange/http';
import { ASSET_SCALES, FIAT_SCALE, numericUnits, toUnits, type FiatCurrency } from '@orrange/money';
import { openTradesExpression, tradeOpeningsJson } from '@orrange/queue';
import { writeMatches } from '../src/data/order.repository';
import type { Placed } from '../src/domain/match-batch';
import type { Order } from '../src/domain/order';
import type { KeyRecord } from '../src/domain/order-batcher';
import type { OrderBookDeps } from '../src/domain/order-book.deps';
import { BATCH_ORDERS_MAX, MarketBatcher, placeOrder, type PlaceOrderInput } from '../src/domain/place-order.use-case';
import { createHarness, type Harness } from './harness';
import { bookInvariantViolations, deposit, ledgerBalance } from './helpers';

/**
 * Orders that arrive while their market is busy are decided together: one transaction per batch of a market, BUYs
 * and SELLs (the SELLs' holds placed in its first round trip with the candidate reads, one write). Every order must end
 * exactly as if the orders had been placed one at a time, in order; a SELL its seller cannot cover is refused
 * and leaves nothing behind, and the others are placed as if it never came.
 *
 * placeOrder queues its order synchronously (MarketBatcher.submit), so calls made without awaiting in between
 * arrive in call order: the first of a market starts a transaction alone, the rest queue behind it and go
 * together in the next one. Each burst here therefore starts with a lead order per market.
 */
describe('orders placed together in batches', () => {
  let harness: Harness;
  let deps: OrderBookDeps;
  const sql = <R = Record<string, unknown>>(text: string, params?: unknown[]) => harness.testDb.query<R>(text, params);

  beforeAll(async () => {
    // Batches here form by arrival alone (a lead order per market, the rest behind it): the window has tests of its own.
    harness = await createHarness({ ORDER_BATCH_WINDOW_MS: '0' });
    deps = harness.deps;
  });

  afterAll(() => harness.close());

  interface OrderBody {
    price: string;
    amount: string;
    minFill?: string;
    paymentMethods?: string[];
  }
  /** A named BTC order of one market, as the API would hand it to placeOrder (minFill defaults to one unit). */
  interface Named {
    name: string;
    input: PlaceOrderInput;
  }
  const named = (
    name: string,
    userId: string,
    side: 'BUY' | 'SELL',
    fiatCurrency: FiatCurrency,
    body: OrderBody,
  ): Named => ({
    name,
    input: {
      userId,
      side,
      asset: 'BTC',
      fiatCurrency,
      price: toUnits(body.price, FIAT_SCALE),
      amount: toUnits(body.amount, ASSET_SCALES.BTC),
      minFill: body.minFill === undefined ? 1n : toUnits(body.minFill, ASSET_SCALES.BTC),
      paymentMethods: body.paymentMethods ?? ['SEPA'],
      paymentWindowMinutes: 30,
      terms: null,
      minFiat: null,
      maxFiat: null,
      expiresAt: null,
      merchant: false,
      paymentMethodIds: [],
    },
  });
  const buy = (name: string, userId: string, fiat: FiatCurrency, body: OrderBody) =>
    named(name, userId, 'BUY', fiat, body);
  const sell = (name: string, userId: string, fiat: FiatCurrency, body: OrderBody) =>
    named(name, userId, 'SELL', fiat, body);

  /** What became of an order: placed (with its fills, as answered), or refused. */
  type Result =
    | { name: string; placed: Placed; refused?: undefined }
    | { name: string; placed?: undefined; refused: unknown };
  const settle = (name: string, placing: Promise<Placed>): Promise<Result> =>
    placing.then(
      (placed) => ({ name, placed }),
      (refused: unknown) => ({ name, refused }),
    );
  /** Each order placed after the one before it was answered. */
  async function oneAtATime(orders: Named[], on: OrderBookDeps = deps): Promise<Result[]> {
    const results: Result[] = [];
    for (const o of orders) results.push(await settle(o.name, placeOrder(on, o.input)));
    return results;
  }
  /** Every order submitted before any is answered, in the given order. */
  const together = (orders: Named[], on: OrderBookDeps = deps): Promise<Result[]> =>
    Promise.all(orders.map((o) => settle(o.name, placeOrder(on, o.input))));
  const idsOf = (results: Result[]) =>
    Object.fromEntries(results.flatMap((r) => (r.placed ? [[r.name, r.placed.order.id]] : []))) as Record<
      string,
      string
    >;

  const order = async (id: string) =>
    (
      await sql<{ status: string; remaining: string }>(
        'SELECT status, remaining::text AS remaining FROM orders WHERE id = $1',
        [id],
      )
    )[0];
  const sequences = async (fiats: FiatCurrency[]) =>
    (
      await sql<{ sequence: string }>(
        `SELECT sequence::text FROM markets WHERE asset = 'BTC' AND fiat_currency = ANY($1) ORDER BY array_position($1, fiat_currency)`,
        [fiats],
      )
    ).map((r) => Number(r.sequence));

  /**
   * The outcome of some markets, independent of ids: orders labelled by their market and their place in its time
   * priority; each order's answer in arrival order (its fills in the order answered, with the parties and the
   * payment method of their matches), or the code it was refused with; and how many matches each market holds.
   */
  async function outcome(fiats: FiatCurrency[], results: Result[]) {
    const orders = await sql<{
      id: string;
      fiat_currency: FiatCurrency;
      rank: string;
      user_id: string;
      side: string;
      status: string;
      remaining: string;
    }>(
      `SELECT id, fiat_currency, row_number() OVER (PARTITION BY fiat_currency ORDER BY seq)::text AS rank, user_id, side, status, remaining::text AS remaining
       FROM orders WHERE asset = 'BTC' AND fiat_currency = ANY($1) ORDER BY array_position($1, fiat_currency), seq`,
      [fiats],
    );
    const label = new Map(orders.map((o) => [o.id, `${fiats.indexOf(o.fiat_currency)}#${o.rank}`]));
    const matches = await sql<{
      id: string;
      fiat_currency: FiatCurrency;
      buyer_id: string;
      seller_id: string;
      payment_method: string;
    }>(
      `SELECT id::text, fiat_currency, buyer_id, seller_id, payment_method FROM matches WHERE asset = 'BTC' AND fiat_currency = ANY($1)`,
      [fiats],
    );
    const match = new Map(
      matches.map((m) => [m.id, { buyer: m.buyer_id, seller: m.seller_id, paymentMethod: m.payment_method }]),
    );
    return {
      orders: orders.map((o) => ({
        order: label.get(o.id),
        user: o.user_id,
        side: o.side,
        status: o.status,
        remaining: o.remaining,
      })),
      answers: results.map((r) =>
        r.placed
          ? {
              order: label.get(r.placed.order.id),
              status: r.placed.order.status,
              fills: r.placed.fills.map((f) => ({
                counter: label.get(f.counterOrderId),
                price: f.price,
                amount: f.amount,
                ...match.get(f.matchId),
              })),
            }
          : { refused: r.refused instanceof AppError ? `${r.refused.status} ${r.refused.code}` : String(r.refused) },
      ),
      matchesPerMarket: fiats.map((fiat) => matches.filter((m) => m.fiat_currency === fiat).length),
    };
  }

  /**
   * Two markets with resting BUY orders (one of them a seller's own), then a burst: a lead bid per market, and
   * SELLs from four sellers across both markets, each seller funded for exactly its SELLs.
   */
  async function twoMarkets([first, second]: [FiatCurrency, FiatCurrency]) {
    const resting = [
      buy('b1', 'buyer-1', first, { price: '105.00', amount: '1' }),
      buy('b2', 'seller-a', first, { price: '110.00', amount: '0.5' }),
      buy('b3', 'buyer-2', first, { price: '100.00', amount: '0.3', minFill: '0.2' }),
      buy('g1', 'buyer-4', second, { price: '50.00', amount: '2' }),
    ];
    const burst = [
      buy('b4', 'buyer-3', first, { price: '103.00', amount: '0.4', paymentMethods: ['WIRE'] }),
      buy('g2', 'seller-b', second, { price: '60.00', amount: '1' }),
      sell('s1', 'seller-a', first, { price: '100.00', amount: '0.8' }),
      sell('h1', 'seller-a', second, { price: '49.00', amount: '0.5' }),
      sell('s2', 'seller-b', first, { price: '101.00', amount: '1', paymentMethods: ['SEPA', 'WIRE'] }),
      sell('h2', 'seller-b', second, { price: '48.00', amount: '2.5' }),
      sell('s4', 'seller-c', first, { price: '99.00', amount: '0.5', minFill: '0.25' }),
      sell('s5', 'seller-d', first, { price: '120.00', amount: '0.1' }),
    ];
    for (const [seller, amount] of [
      ['seller-a', '1.3'],
      ['seller-b', '3.5'],
      ['seller-c', '0.5'],
      ['seller-d', '0.1'],
    ] as const)
      await deposit(harness.testDb, seller, 'BTC', amount);
    return { resting: await oneAtATime(resting), burst };
  }

  /**
   * The order book over a Database whose transactions count their round trips: each statement, or statements
   * sent together, is one; so is the COMMIT (with whatever was deferred to it, and the last statement if the
   * body sent that with it). Writes deferred to the COMMIT and effects after it are not sent on their own. Its
   * own batcher, so the shared one's queues are not involved.
   */
  const counting = (windowMs = 0) => {
    const roundTrips: number[] = [];
    const db = Object.create(deps.db) as Database;
    db.transaction = (body, options) =>
      deps.db.transaction(async (tx) => {
        let sent = 0;
        let committed = false;
        const counted: Tx = {
          ...tx,
          query: <R>(text: string, params?: unknown[]) => {
            sent += 1;
            return tx.query<R>(text, params);
          },
          queries: <R>(statements: Statement[]) => {
            sent += 1;
            return tx.queries<R>(statements);
          },
          commitWith: <R>(text: string, params?: unknown[]) => {
            sent += 1;
            committed = true;
            return tx.commitWith<R>(text, params);
          },
        };
        const result = await body(counted);
        roundTrips.push(sent + (committed ? 0 : 1));
        return result;
      }, options);
    const batches = { windows: 0, sizes: [] as number[] };
    const observe = { windowOpened: () => batches.windows++, batchStarted: (n: number) => batches.sizes.push(n) };
    const countingDeps: OrderBookDeps = {
      ...deps,
      db,
      batcher: new MarketBatcher(() => countingDeps, { windowMs, observe }),
    };
    return { deps: countingDeps, roundTrips, batches };
  };
  it('when SELLs from several sellers in two markets arrive together, then they match exactly as one at a time would', async () => {
    const alone = await twoMarkets(['EUR', 'GBP']);
    const aloneResults = await oneAtATime(alone.burst);

    const grouped = await twoMarkets(['CHF', 'JPY']);
    const before = await sequences(['CHF', 'JPY']);
    const results = await together(grouped.burst);
    expect(results.filter((r) => r.refused)).toEqual([]);
    // Two writes per market: the lead bid's, then one for all the SELLs that queued behind it.
    expect(await sequences(['CHF', 'JPY'])).toEqual(before.map((s) => s + 2));

    expect(await outcome(['CHF', 'JPY'], [...grouped.resting, ...results])).toEqual(
      await outcome(['EUR', 'GBP'], [...alone.resting, ...aloneResults]),
    );
    const ids = { ...idsOf(grouped.resting), ...idsOf(results) };
    // seller-a's SELL passes over seller-a's own better bid; seller-b's takes it.
    expect(await order(ids.s1!)).toMatchObject({ status: 'FILLED' });
    expect(await order(ids.s2!)).toMatchObject({ status: 'FILLED' });
    expect(await order(ids.b1!)).toMatchObject({ status: 'FILLED' });
    expect(await order(ids.b2!)).toMatchObject({ status: 'FILLED' });
    expect(await order(ids.b4!)).toMatchObject({ status: 'PARTIALLY_FILLED', remaining: '0.10000000' });
    const fills = await sql<{ sell: string; buy: string; price: string; amount: string; payment_method: string }>(
      `SELECT sell_order_id::text AS sell, buy_order_id::text AS buy, price::text, amount::text, payment_method FROM matches WHERE fiat_currency = 'CHF'`,
    );
    expect(fills.filter((f) => f.sell === ids.s1)).toEqual([
      { sell: ids.s1, buy: ids.b1, price: '105.00', amount: '0.80000000', payment_method: 'SEPA' },
    ]);
    expect(
      fills
        .filter((f) => f.sell === ids.s2)
        .map((f) => [f.buy, f.price, f.amount, f.payment_method])
        .sort(),
    ).toEqual(
      [
        [ids.b2, '110.00', '0.50000000', 'SEPA'],
        [ids.b1, '105.00', '0.20000000', 'SEPA'],
        [ids.b4, '103.00', '0.30000000', 'WIRE'],
      ].sort(),
    );
    // Partial fill: its minFill let it take the whole small bid; the WIRE-only bid is not for it.
    expect(await order(ids.s4!)).toMatchObject({ status: 'PARTIALLY_FILLED', remaining: '0.20000000' });
    expect(await order(ids.s5!)).toMatchObject({ status: 'OPEN', remaining: '0.10000000' });
    // Second market: seller-b's SELL passes over seller-b's own bid that seller-a's SELL took half of.
    expect(await order(ids.h1!)).toMatchObject({ status: 'FILLED' });
    expect(await order(ids.h2!)).toMatchObject({ status: 'PARTIALLY_FILLED', remaining: '0.50000000' });
    expect(await order(ids.g1!)).toMatchObject({ status: 'FILLED' });
    expect(await order(ids.g2!)).toMatchObject({ status: 'PARTIALLY_FILLED', remaining: '0.50000000' });
    // Every seller's balance went into holds and escrows, none left over, none missing.
    for (const seller of ['seller-a', 'seller-b', 'seller-c', 'seller-d'])
      expect(await ledgerBalance(harness.testDb, 'AVAILABLE', seller, 'BTC')).toBe('0.00000000');
    expect(await bookInvariantViolations(harness.testDb)).toEqual([]);
  });

  it('when BUYs and SELLs of one market arrive together, taking turns, then one transaction places them all in two round trips, as one at a time would', async () => {
    /** A lead bid that crosses nothing, then pairs: a SELL, and a BUY that crosses it and what earlier SELLs left. */
    const turns = async (fiat: FiatCurrency) => {
      const burst: Named[] = [buy('lead', 'turns-lead', fiat, { price: '10.00', amount: '0.01' })];
      for (let i = 0; i < 4; i += 1) {
        await deposit(harness.testDb, `turns-seller-${i}`, 'BTC', '0.3');
        burst.push(sell(`s${i}`, `turns-seller-${i}`, fiat, { price: `${100 + i}.00`, amount: '0.3' }));
        burst.push(buy(`b${i}`, `turns-buyer-${i}`, fiat, { price: `${101 + i}.00`, amount: '0.2' }));
      }
      return burst;
    };
    const aloneResults = await oneAtATime(await turns('USD'));
    const run = counting();
    const results = await together(await turns('AED'), run.deps);
    expect(results.filter((r) => r.refused)).toEqual([]);
    // The lead alone; then the 8 others together: the market lock, the holds and standing, and a candidate read per
    // side in the first round trip; the orders, matches (some between orders of the batch), trades and escrows with
    // the COMMIT in the second.
    expect(run.roundTrips).toEqual([2, 2]);
    expect(await outcome(['AED'], results)).toEqual(await outcome(['USD'], aloneResults));
    expect((await outcome(['AED'], results)).matchesPerMarket).toEqual([5]);
    expect(await bookInvariantViolations(harness.testDb)).toEqual([]);
  });

  it('when the book is deeper than one candidate read, then a batch still decides every order as one at a time would', async () => {
    // 200 one-unit bids of seller-x at the best price fill a whole CANDIDATES_MAX read; 60 of others wait behind them.
    const deepBook = async (fiat: FiatCurrency) => {
      await sql(
        `INSERT INTO orders (id, user_id, side, asset, fiat_currency, price, amount, remaining, min_fill, payment_methods, payment_window_minutes, status, live)
         SELECT gen_random_uuid(), CASE WHEN i <= 200 THEN 'seller-x' ELSE 'deep-buyer-' || i END, 'BUY', 'BTC', $1, CASE WHEN i <= 200 THEN 200 ELSE 190 END,
           0.00000001, 0.00000001, 0.00000001, ARRAY['SEPA'], 30, 'OPEN', true
         FROM generate_series(1, 260) i ORDER BY i`,
        [fiat],
      );
      const sells = [
        ['x', '0.0000003'],
        ['y', '0.0000004'],
        ['z', '0.0000002'],
        ['v1', '0.0000005'],
        ['v2', '0.0000005'],
        ['v3', '0.0000005'],
      ] as const;
      for (const [name, amount] of sells) await deposit(harness.testDb, `seller-${name}`, 'BTC', amount);
      // A bid far below the asks leads, so that all six SELLs queue behind it. seller-x first: the shared read holds
      // only its own bids, so it is decided on a read of its own.
      return [
        buy('lead', 'deep-lead', fiat, { price: '1.00', amount: '0.00000001' }),
        ...sells.map(([name, amount]) => sell(name, `seller-${name}`, fiat, { price: '150.00', amount })),
      ];
    };
    const aloneResults = await oneAtATime(await deepBook('ZAR'));
    const results = await together(await deepBook('TRY'));
    expect(results.filter((r) => r.refused)).toEqual([]);

    expect(await outcome(['TRY'], results)).toEqual(await outcome(['ZAR'], aloneResults));
    const { x, y, z, v1, v2, v3 } = idsOf(results);
    const fillsOf = (id: string) =>
      sql<{ price: string; buyer_id: string }>('SELECT price::text, buyer_id FROM matches WHERE sell_order_id = $1', [
        id,
      ]);
    const xFills = await fillsOf(x!);
    expect(xFills).toHaveLength(30);
    expect(xFills.every((f) => f.price === '190.00' && f.buyer_id !== 'seller-x')).toBe(true);
    expect(await order(x!)).toMatchObject({ status: 'FILLED' });
    expect((await fillsOf(y!)).map((f) => f.price)).toEqual(Array(40).fill('200.00'));
    for (const id of [y!, z!, v1!, v2!]) expect(await order(id)).toMatchObject({ status: 'FILLED' });
    // The last one outran the read of 200 (40 bids were left in it): it was decided on a fresh read.
    expect((await fillsOf(v3!)).map((f) => f.price).sort()).toEqual(
      [...Array(40).fill('200.00'), ...Array(10).fill('190.00')].sort(),
    );
    expect(await bookInvariantViolations(harness.testDb)).toEqual([]);
  });

  /**
   * An order that stops at FILLS_PER_ORDER_MAX matches again before the orders behind it in its batch (the round
   * ends with it), so they cannot take the best bids first: here `a`, which came first, gets all 60 at 200.00 and
   * `b` behind it the next 10 at 190.00, as one at a time.
   */
  it('when an order of a batch stops at the fill cap with something left, then it matches again before the orders behind it, as one at a time would', async () => {
    // 60 one-unit bids at 200.00 and 20 at 190.00, from other users.
    const capBook = async (fiat: FiatCurrency) => {
      await sql(
        `INSERT INTO orders (id, user_id, side, asset, fiat_currency, price, amount, remaining, min_fill, payment_methods, payment_window_minutes, status, live)
         SELECT gen_random_uuid(), 'cap-buyer-' || i, 'BUY', 'BTC', $1, CASE WHEN i <= 60 THEN 200 ELSE 190 END, 0.00000001, 0.00000001, 0.00000001, ARRAY['SEPA'], 30, 'OPEN', true
         FROM generate_series(1, 80) i ORDER BY i`,
        [fiat],
      );
      await deposit(harness.testDb, 'cap-seller-a', 'BTC', '0.0000006');
      await deposit(harness.testDb, 'cap-seller-b', 'BTC', '0.0000001');
      return [
        buy('lead', 'cap-lead', fiat, { price: '1.00', amount: '0.00000001' }),
        sell('a', 'cap-seller-a', fiat, { price: '150.00', amount: '0.0000006' }),
        sell('b', 'cap-seller-b', fiat, { price: '150.00', amount: '0.0000001' }),
      ];
    };
    const aloneResults = await oneAtATime(await capBook('NGN'));
    const results = await together(await capBook('CAD'));
    expect(results.filter((r) => r.refused)).toEqual([]);
    const { a, b } = idsOf(results);
    const prices = async (id: string) =>
      (await sql<{ price: string }>('SELECT price::text FROM matches WHERE sell_order_id = $1', [id]))
        .map((f) => f.price)
        .sort();
    expect(await prices(a!)).toEqual(Array(60).fill('200.00'));
    expect(await prices(b!)).toEqual(Array(10).fill('190.00'));
    expect(await outcome(['CAD'], results)).toEqual(await outcome(['NGN'], aloneResults));
  });

  it('when a write says an incoming order has other than its fills taken from it, then the database refuses the write and nothing of it stays', async () => {
    // An order of a batch that rested and that a later one took from is inserted with what it has left: nothing but
    // the write's own matches may account for it.
    const now = new Date();
    const bid: Order = {
      id: randomUUID(),
      userId: 'guarded-buyer',
      side: 'BUY',
      asset: 'BTC',
      fiatCurrency: 'NGN',
      price: toUnits('100.00', FIAT_SCALE),
      amount: toUnits('0.5', ASSET_SCALES.BTC),
      remaining: toUnits('0.3', ASSET_SCALES.BTC),
      minFill: 1n,
      paymentMethods: ['SEPA'],
      paymentMethodIds: [],
      paymentWindowMinutes: 30,
      terms: null,
      minFiat: null,
      maxFiat: null,
      expiresAt: null,
      paused: false,
      merchant: false,
      status: 'PARTIALLY_FILLED',
      rejectReason: null,
      seq: 0n,
      createdAt: now,
      updatedAt: now,
    };
    await expect(
      deps.db.transaction((tx) =>
        writeMatches(tx, bid, { kind: 'insert', orders: [bid] }, [], [], { tradesMustOpen: true }),
      ),
    ).rejects.toThrow(/remainder does not match its fills/);
    expect(await order(bid.id)).toBeUndefined();
  });

  it('when a match would have the same buyer and seller, then the database refuses it', async () => {
    const [bid] = await oneAtATime([buy('bid', 'self-trader', 'KES', { price: '100.00', amount: '0.1' })]);
    await expect(
      sql(
        `INSERT INTO matches (id, trade_id, maker_order_id, taker_order_id, buy_order_id, sell_order_id, buyer_id, seller_id, asset, fiat_currency, price, amount, payment_method, payment_window_minutes, seller_funding)
       VALUES (gen_random_uuid(), gen_random_uuid(), $1, NULL, $1, NULL, 'self-trader', 'self-trader', 'BTC', 'KES', 100, 0.1, 'SEPA', 30, 'AVAILABLE')`,
        [bid!.placed!.order.id],
      ),
    ).rejects.toThrow(/matches_no_self_trade_check/);
    // Nor does trade-execution open a trade between a user and themselves, whatever order-book sends it.
    await deposit(harness.testDb, 'self-trader', 'BTC', '0.1');
    const opening = {
      matchId: 'self-match',
      tradeId: 'self-trade',
      buyOrderId: bid!.placed!.order.id,
      sellOrderId: null,
      buyerId: 'self-trader',
      sellerId: 'self-trader',
      asset: 'BTC' as const,
      fiatCurrency: 'KES' as const,
      price: '100.00',
      amount: '0.1',
      paymentMethod: 'SEPA',
      paymentWindowMinutes: 30,
      sellerFunding: 'AVAILABLE' as const,
      buyerTradesMax: 10,
      buyerCancelsMax: 3,
    };
    expect(() => tradeOpeningsJson([opening])).toThrow(/buyer and seller must differ/);
    // The contract's own check bypassed: the function checks again.
    await expect(sql(`SELECT ${openTradesExpression('$1')} AS outcomes`, [JSON.stringify([opening])])).rejects.toThrow(
      /two different parties/,
    );
    expect(await ledgerBalance(harness.testDb, 'AVAILABLE', 'self-trader', 'BTC')).toBe('0.10000000');
  });

  it('when 24 funded SELLs in two markets are placed together, then it costs the same few round trips per market as one', async () => {
    /** Per market: 10 bids, a lead SELL that crosses nothing, and `n` funded SELLs that cross them, all submitted together. */
    const placeTogether = async (fiats: FiatCurrency[], n: number) => {
      const burst: Named[] = [];
      for (const fiat of fiats) {
        await oneAtATime(
          Array.from({ length: 10 }, (_, i) =>
            buy(`bid-${i}`, `rt-buyer-${i}`, fiat, { price: `${100 + i}.00`, amount: '0.05' }),
          ),
        );
        await deposit(harness.testDb, `rt-lead-${fiat}`, 'BTC', '0.07');
        burst.push(sell('lead', `rt-lead-${fiat}`, fiat, { price: '500.00', amount: '0.07' }));
      }
      for (const fiat of fiats) {
        for (let i = 0; i < n; i += 1) {
          await deposit(harness.testDb, `rt-seller-${i}-${fiat}`, 'BTC', '0.07');
          burst.push(sell(`sell-${i}`, `rt-seller-${i}-${fiat}`, fiat, { price: `${95 + i}.00`, amount: '0.07' }));
        }
      }
      const run = counting();
      const results = await together(burst, run.deps);
      expect(results.filter((r) => r.refused)).toEqual([]);
      return { sells: results.length - fiats.length, roundTrips: [...run.roundTrips].sort((a, b) => a - b) };
    };

    // Per market: the lead goes alone, the rest together. Each transaction locks the market, places the holds and
    // reads the candidates in its first round trip, and writes the orders, matches, trades and escrows with its
    // COMMIT in the second.
    const one = await placeTogether(['GHS', 'ARS'], 1);
    expect(one).toEqual({ sells: 2, roundTrips: [2, 2, 2, 2] });
    expect(await placeTogether(['MXN', 'AUD'], 12)).toEqual({ sells: 24, roundTrips: one.roundTrips });
    const [filled] = await sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM matches WHERE fiat_currency IN ('MXN', 'AUD')`,
    );
    expect(filled!.n).toBeGreaterThan(12);
    expect(await bookInvariantViolations(harness.testDb)).toEqual([]);
  });

  it('when funded and unfunded SELLs arrive together, then the unfunded are refused and leave nothing, and the funded are placed as if they never came', async () => {
    const bids = (fiat: FiatCurrency) => [
      buy('b1', 'mix-buyer-1', fiat, { price: '105.00', amount: '1' }),
      buy('b2', 'mix-buyer-2', fiat, { price: '100.00', amount: '0.5' }),
    ];
    const lead = (fiat: FiatCurrency) => buy('lead', 'mix-lead', fiat, { price: '1.00', amount: '0.1' });
    const funded = (fiat: FiatCurrency) => [
      sell('f1', 'mix-seller-1', fiat, { price: '100.00', amount: '0.6' }),
      sell('f2', 'mix-seller-2', fiat, { price: '100.00', amount: '0.7' }),
      sell('f3', 'mix-seller-3', fiat, { price: '102.00', amount: '0.2' }),
    ];
    const fund = async (amounts: Array<[string, string]>) => {
      for (const [seller, amount] of amounts) await deposit(harness.testDb, seller, 'BTC', amount);
    };

    // Without the unfunded SELLs, one at a time.
    await oneAtATime(bids('INR'));
    await fund([
      ['mix-seller-1', '0.6'],
      ['mix-seller-2', '0.7'],
      ['mix-seller-3', '0.2'],
    ]);
    const reference = await oneAtATime([lead('INR'), ...funded('INR')]);

    // With them, together: nobody's balance covers the first (at the best price: it would take the best bid); the
    // second's seller has 0.5 of 0.6; mix-seller-2's second SELL finds only what its first left.
    await oneAtATime(bids('BRL'));
    await fund([
      ['mix-seller-1', '0.6'],
      ['mix-seller-2', '1'],
      ['mix-seller-3', '0.2'],
      ['mix-short', '0.5'],
    ]);
    const [f1, f2, f3] = funded('BRL');
    const before = await sequences(['BRL']);
    const results = await together([
      lead('BRL'),
      sell('u1', 'mix-broke', 'BRL', { price: '99.00', amount: '0.4' }),
      f1!,
      sell('u2', 'mix-short', 'BRL', { price: '101.00', amount: '0.6' }),
      f2!,
      sell('u3', 'mix-seller-2', 'BRL', { price: '100.00', amount: '0.7' }),
      f3!,
    ]);
    const refused = results.filter((r) => r.refused);
    expect(refused.map((r) => r.name)).toEqual(['u1', 'u2', 'u3']);
    for (const r of refused) expect(r.refused).toMatchObject({ status: 409, code: 'WALLET.INSUFFICIENT_FUNDS' });
    // One write for the SELLs that queued behind the lead: the refused ones did not split the batch.
    expect(await sequences(['BRL'])).toEqual(before.map((s) => s + 2));

    expect(
      await outcome(
        ['BRL'],
        results.filter((r) => r.placed),
      ),
    ).toEqual(await outcome(['INR'], reference));
    expect(await sql("SELECT id FROM orders WHERE user_id IN ('mix-broke', 'mix-short')")).toEqual([]);
    expect(await sql("SELECT id FROM orders WHERE user_id = 'mix-seller-2' AND fiat_currency = 'BRL'")).toHaveLength(1);
    expect(await sql("SELECT order_id FROM trade.order_holds WHERE user_id IN ('mix-broke', 'mix-short')")).toEqual([]);
    // Balances as they were before the refused SELLs came, and nothing held for them (trade-execution may have
    // opened empty accounts on the way: a balance is compared, not a row).
    const units = async (kind: 'AVAILABLE' | 'HELD', owner: string) =>
      numericUnits(
        (
          await sql<{ b: string }>(
            "SELECT coalesce(sum(balance), 0)::text AS b FROM trade.accounts WHERE kind = $1 AND owner_id = $2 AND asset = 'BTC'",
            [kind, owner],
          )
        )[0]!.b,
        8,
      );
    expect(await units('AVAILABLE', 'mix-broke')).toBe(0n);
    expect(await units('AVAILABLE', 'mix-short')).toBe(50_000_000n);
    for (const owner of ['mix-broke', 'mix-short']) expect(await units('HELD', owner)).toBe(0n);
    expect(await ledgerBalance(harness.testDb, 'AVAILABLE', 'mix-seller-2', 'BTC')).toBe('0.30000000');
    expect(await bookInvariantViolations(harness.testDb)).toEqual([]);
  });

  it("when two orders of one batch carry the same Idempotency-Key, then the first is placed, the second finds the key taken, and the batch's other orders are placed", async () => {
    const keyed = (key: string): KeyRecord<Placed> => ({
      claim: { scope: 'user:dup-keys', key, requestHash: 'the same request' },
      answer: (placed) => ({ id: placed.order.id }),
    });
    const eth = (o: Named): PlaceOrderInput => ({ ...o.input, asset: 'ETH', amount: toUnits('0.5', ASSET_SCALES.ETH) });
    // BUYs only, and with SELLs (whose holds go in the same round trip as the claims: that batch runs again).
    for (const [fiat, side] of [
      ['JPY', 'BUY'],
      ['CAD', 'SELL'],
    ] as const) {
      const [lead, retried, other] = ['dup-lead', 'dup-keys', 'dup-other'].map((user, i) =>
        eth(named(`${user}-${fiat}`, user, side, fiat, { price: `${10 + i}.00`, amount: '1' })),
      ) as [PlaceOrderInput, PlaceOrderInput, PlaceOrderInput];
      if (side === 'SELL')
        for (const user of ['dup-lead', 'dup-keys', 'dup-other']) await deposit(harness.testDb, user, 'ETH', '1');
      // The lead makes the market busy: the three behind it go together in one batch.
      const results = await Promise.all([
        settle('lead', placeOrder(deps, lead)),
        settle('first', placeOrder(deps, retried, keyed(`k-${fiat}`))),
        settle('retry', placeOrder(deps, retried, keyed(`k-${fiat}`))),
        settle('other', placeOrder(deps, other, keyed(`k-other-${fiat}`))),
      ]);
      const taken = (r: Result) => r.refused instanceof IdempotencyKeyTaken && r.refused.claim.key === `k-${fiat}`;
      expect(results.map((r) => (r.placed ? r.placed.order.status : taken(r) ? 'KEY TAKEN' : r.refused))).toEqual([
        'OPEN',
        'OPEN',
        'KEY TAKEN',
        'OPEN',
      ]);
      expect(
        await sql("SELECT count(*)::int AS n FROM orders WHERE user_id = 'dup-keys' AND fiat_currency = $1", [fiat]),
      ).toEqual([{ n: 1 }]);
      expect(await sql('SELECT status_code FROM idempotency_keys WHERE key = $1', [`k-${fiat}`])).toEqual([
        { status_code: 201 },
      ]);
    }
    expect(await bookInvariantViolations(harness.testDb)).toEqual([]);
  });

  describe('the batch window', () => {
    /** A bid for ETH in `fiat` (no SELLs there: it rests), by a user of its own. */
    const ethBid = (fiat: FiatCurrency, i: number): Named => {
      const bid = buy(`w${i}`, `window-${fiat}-${i}`, fiat, { price: '10.00', amount: '1' });
      return { name: bid.name, input: { ...bid.input, asset: 'ETH', amount: toUnits('0.5', ASSET_SCALES.ETH) } };
    };
    const bids = (fiat: FiatCurrency, from: number, count: number) =>
      Array.from({ length: count }, (_, i) => ethBid(fiat, from + i));
    const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

    it("when a market's orders keep arriving close together, then one that finds its queue empty waits the window, and the next turns' orders go in its transaction", async () => {
      const { deps: windowed, roundTrips, batches } = counting(1_000);
      // Each placed within the window of the one before (none waits yet): the next arrival makes a third come close.
      await oneAtATime(bids('EUR', 1, 3), windowed);
      expect(roundTrips).toHaveLength(3);
      const first = settle('w4', placeOrder(windowed, ethBid('EUR', 4).input));
      await nextTurn();
      const later = together(bids('EUR', 5, 2), windowed);
      const results = [await first, ...(await later)];
      expect(results.filter((r) => r.refused)).toEqual([]);
      // Without the window w4 would have gone alone, and w5 and w6 in a transaction after it.
      expect(roundTrips).toHaveLength(4);
      expect(batches).toEqual({ windows: 1, sizes: [1, 1, 1, 3] }); // what /metrics shows
      expect(results.map((r) => r.placed?.order.status)).toEqual(['OPEN', 'OPEN', 'OPEN']);
    });

    it("when a market's orders have not come close together, then an order goes at once", async () => {
      const { deps: windowed, roundTrips } = counting(60_000);
      // A window of a minute would outlast the test: both are placed because neither waited.
      const results = await oneAtATime(bids('GBP', 1, 2), windowed);
      expect(results.filter((r) => r.refused)).toEqual([]);
      expect(roundTrips).toHaveLength(2);
    });

    it('when a full batch is waiting in the window, then its transaction starts at once', async () => {
      const { deps: windowed, roundTrips } = counting(60_000);
      await oneAtATime(bids('CHF', 1, 3), windowed);
      // The first of these opens a window of a minute; the last one fills the batch, which goes then.
      const results = await together(bids('CHF', 4, BATCH_ORDERS_MAX), windowed);
      expect(results.filter((r) => r.refused)).toEqual([]);
      expect(roundTrips).toHaveLength(4);
    });
  });
});
