import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import pg from 'pg';
import request from 'supertest';
import { ASSET_SCALES, fromUnits, type Asset } from '@orrange/money';
import { ZodError } from 'zod';
import {
  eventSchemas,
  ledgerOutcomes,
  openTradesExpression,
  placeSellHoldsCall,
  releaseSellHoldCall,
  tradeOpeningsJson,
  type LedgerOutcome,
  type SellHold,
  type TradeOpening,
} from '@orrange/queue';
import { eventually } from '@orrange/testing';
import { savePaymentMinute } from '../src/data/trade.repository';
import {
  balance,
  expireDeadline,
  fund,
  openTrades,
  placeSellHolds,
  releaseSellHold,
  sellHold,
  sqlStateOf,
  tradeOpening,
  verify,
} from './factories';
import { createHarness, type Harness } from './harness';

/**
 * place_sell_holds, open_trades and release_sell_hold (migration order_path_functions) are trade-execution's part of
 * the order path: order-book calls them inside its own transactions. These tests call them the way order-book does
 * (through the call builders of @orrange/queue) and check what they wrote through this service's API and tables.
 * release_sell_hold on its own: hold-release.test.ts.
 */
describe('order path functions: place_sell_holds and open_trades', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness();
  });

  afterAll(() => h.close());

  /** What the functions wrote about these orders, trades or matches: journals, trades, outbox rows, hold rows. */
  async function writtenAbout(
    refs: string[],
  ): Promise<{ journals: number; trades: number; outbox: number; holds: number }> {
    const [row] = await h.runtime.db.query<{ journals: number; trades: number; outbox: number; holds: number }>(
      `SELECT (SELECT count(*)::int FROM journals WHERE ref = ANY ($1::text[])) AS journals,
              (SELECT count(*)::int FROM trades WHERE id = ANY ($1::text[]) OR match_id = ANY ($1::text[])) AS trades,
              (SELECT count(*)::int FROM outbox WHERE payload->>'tradeId' = ANY ($1::text[]) OR payload->>'orderId' = ANY ($1::text[])) AS outbox,
              (SELECT count(*)::int FROM order_holds WHERE order_id = ANY ($1::text[])) AS holds`,
      [refs],
    );
    return row!;
  }

  const nothing = { journals: 0, trades: 0, outbox: 0, holds: 0 };
  const refsOf = (openings: TradeOpening[]) => openings.flatMap((o) => [o.tradeId, o.matchId]);
  const holdRow = async (orderId: string) =>
    (
      await h.runtime.db.query<{ user_id: string; asset: string; amount: string; status: string }>(
        'SELECT user_id, asset, amount::text, status FROM order_holds WHERE order_id = $1',
        [orderId],
      )
    )[0];
  const activeUsers = async (userIds: string[]) =>
    (
      await h.runtime.db.query<{ user_id: string }>(
        'SELECT DISTINCT user_id FROM user_activity_hours WHERE user_id = ANY ($1::text[]) ORDER BY user_id',
        [userIds],
      )
    ).map((r) => r.user_id);

  describe('place_sell_holds', () => {
    it('when two holds of one seller come in one call and only the first fits, then the first is placed and the second is INSUFFICIENT and writes nothing', async () => {
      await fund(h, 'ph-seller', 'BTC', '1');
      const [first, second] = [sellHold('ph-seller', 'BTC', '0.6'), sellHold('ph-seller', 'BTC', '0.6')];
      expect(await placeSellHolds(h, [first!, second!])).toEqual(['OK', 'INSUFFICIENT']);
      expect(await balance(h, 'ph-seller', 'BTC')).toMatchObject({
        available: '0.40000000',
        held: '0.60000000',
        inEscrow: '0.00000000',
      });
      expect(await holdRow(first!.orderId)).toEqual({
        user_id: 'ph-seller',
        asset: 'BTC',
        amount: '0.60000000',
        status: 'PLACED',
      });
      expect(await writtenAbout([second!.orderId])).toEqual(nothing);
    });

    it('when holds of several sellers come in one call, then each is decided in order against what the earlier ones left', async () => {
      await fund(h, 'ph-a', 'BTC', '1');
      await fund(h, 'ph-b', 'ETH', '0.5');
      await fund(h, 'ph-c', 'USDT', '10');
      const holds = [
        sellHold('ph-a', 'BTC', '0.6'),
        sellHold('ph-b', 'ETH', '0.6'), // more than ph-b has
        sellHold('ph-a', 'BTC', '0.6'), // after the first, ph-a has 0.4 left
        sellHold('ph-a', 'BTC', '0.4'), // exactly what is left
        sellHold('ph-c', 'USDT', '10'),
      ];
      expect(await placeSellHolds(h, holds)).toEqual(['OK', 'INSUFFICIENT', 'INSUFFICIENT', 'OK', 'OK']);
      expect(await balance(h, 'ph-a', 'BTC')).toMatchObject({ available: '0.00000000', held: '1.00000000' });
      expect(await balance(h, 'ph-b', 'ETH')).toMatchObject({ available: '0.50000000', held: '0.00000000' });
      expect(await balance(h, 'ph-c', 'USDT')).toMatchObject({ available: '0.000000', held: '10.000000' });
      const statuses = await Promise.all(holds.map(async (x) => (await holdRow(x.orderId))?.status));
      expect(statuses).toEqual(['PLACED', undefined, undefined, 'PLACED', 'PLACED']);
    });

    it('when an order is held a second time (in a later call or in the same one), then DUPLICATE and its amount is held once', async () => {
      await fund(h, 'ph-twice', 'BTC', '1');
      const hold = sellHold('ph-twice', 'BTC', '0.3');
      expect(await placeSellHolds(h, [hold])).toEqual(['OK']);
      expect(await placeSellHolds(h, [hold])).toEqual(['DUPLICATE']);
      const other = sellHold('ph-twice', 'BTC', '0.1');
      expect(await placeSellHolds(h, [other, other])).toEqual(['OK', 'DUPLICATE']);
      expect(await balance(h, 'ph-twice', 'BTC')).toMatchObject({ available: '0.60000000', held: '0.40000000' });
      expect(await writtenAbout([hold.orderId])).toEqual({ journals: 1, trades: 0, outbox: 0, holds: 1 });
      expect(await writtenAbout([other.orderId])).toEqual({ journals: 1, trades: 0, outbox: 0, holds: 1 });
    });

    it('when parallel calls drain one balance, then exactly the covered holds are placed and the rest are INSUFFICIENT', async () => {
      await fund(h, 'ph-race', 'BTC', '1');
      const holds = Array.from({ length: 12 }, () => sellHold('ph-race', 'BTC', '0.25'));
      const outcomes = (await Promise.all(holds.map((x) => placeSellHolds(h, [x])))).flat();
      expect(outcomes.filter((o) => o === 'OK')).toHaveLength(4);
      expect(outcomes.filter((o) => o === 'INSUFFICIENT')).toHaveLength(8);
      expect(await balance(h, 'ph-race', 'BTC')).toMatchObject({ available: '0.00000000', held: '1.00000000' });
      expect(await h.runtime.db.query(`SELECT 1 FROM order_holds WHERE user_id = 'ph-race'`)).toHaveLength(4);
      expect((await verify(h)).ok).toBe(true);
    });
  });

  describe('open_trades', () => {
    it("when a trade opens from a SELL order's hold, then HELD → ESCROW and the trade is AWAITING_PAYMENT with the match's fields, fiat rounded to cents and its payment deadline", async () => {
      await fund(h, 'ot-maker', 'BTC', '1');
      const hold = sellHold('ot-maker', 'BTC', '1');
      await placeSellHolds(h, [hold]);
      const opening = tradeOpening({
        sellerId: 'ot-maker',
        sellOrderId: hold.orderId,
        sellerFunding: 'HOLD',
        amount: '0.12345678',
        price: '64250.50',
        paymentWindowMinutes: 15,
      });
      expect(await openTrades(h, [opening])).toEqual(['OK']);

      expect(await balance(h, 'ot-maker', 'BTC')).toEqual({
        asset: 'BTC',
        available: '0.00000000',
        held: '0.87654322',
        inEscrow: '0.12345678',
      });
      const [trade] = await h.runtime.db.query(
        `SELECT match_id, buy_order_id, sell_order_id, buyer_id, seller_id, asset, fiat_currency, price::text, amount::text, fiat_amount::text, fee::text,
                payment_method, payment_window_minutes, status, escrow_status, created_at = updated_at AS untouched,
                (extract(epoch FROM payment_deadline - created_at) * 1000)::bigint::text AS window_ms
         FROM trades WHERE id = $1`,
        [opening.tradeId],
      );
      expect(trade).toEqual({
        match_id: opening.matchId,
        buy_order_id: opening.buyOrderId,
        sell_order_id: hold.orderId,
        buyer_id: opening.buyerId,
        seller_id: 'ot-maker',
        asset: 'BTC',
        fiat_currency: 'USD',
        price: '64250.50',
        amount: '0.12345678',
        fiat_amount: '7932.16',
        fee: '0.00000000',
        payment_method: 'SEPA',
        payment_window_minutes: 15,
        status: 'AWAITING_PAYMENT',
        escrow_status: 'LOCKED',
        untouched: true,
        window_ms: String(15 * h.config.PAYMENT_MINUTE_MS),
      });
      // What the API makes of the row.
      const res = await request(h.app).get(`/api/v1/trades/${opening.tradeId}`).set(h.as(opening.buyerId));
      expect(res.status).toBe(200);
      expect(res.body.trade).toMatchObject({
        status: 'AWAITING_PAYMENT',
        amount: '0.12345678',
        price: '64250.50',
        fiatAmount: '7932.16',
        escrow: { status: 'LOCKED' },
      });
      expect(await activeUsers([opening.buyerId, 'ot-maker'])).toEqual([opening.buyerId, 'ot-maker'].sort());
    });

    it("when a trade opens from the seller's AVAILABLE (a seller taking a BUY ad), then AVAILABLE → ESCROW and the seller's holds stay", async () => {
      await fund(h, 'ot-taker', 'USDT', '10');
      await placeSellHolds(h, [sellHold('ot-taker', 'USDT', '3')]);
      const opening = tradeOpening({ sellerId: 'ot-taker', asset: 'USDT', amount: '2.5', price: '1.00' });
      expect(await openTrades(h, [opening])).toEqual(['OK']);
      expect(await balance(h, 'ot-taker', 'USDT')).toEqual({
        asset: 'USDT',
        available: '4.500000',
        held: '3.000000',
        inEscrow: '2.500000',
      });
      expect(
        await h.runtime.db.query('SELECT status, sell_order_id FROM trades WHERE id = $1', [opening.tradeId]),
      ).toEqual([{ status: 'AWAITING_PAYMENT', sell_order_id: null }]);
    });

    it('when price × amount falls on half a cent, then the fiat amount rounds half up', async () => {
      await fund(h, 'ot-cents', 'USDT', '100');
      const cases = [
        { price: '100.01', amount: '0.5', fiat: '50.01' },
        { price: '1.00', amount: '0.125', fiat: '0.13' },
        { price: '0.01', amount: '0.5', fiat: '0.01' },
        { price: '3.33', amount: '0.001', fiat: '0.00' },
        { price: '64250.50', amount: '0.123456', fiat: '7932.11' },
      ];
      const openings = cases.map((c) =>
        tradeOpening({ sellerId: 'ot-cents', asset: 'USDT', price: c.price, amount: c.amount }),
      );
      expect(await openTrades(h, openings)).toEqual(cases.map(() => 'OK'));
      const rows = await h.runtime.db.query<{ id: string; fiat_amount: string }>(
        'SELECT id, fiat_amount::text FROM trades WHERE id = ANY ($1::text[])',
        [openings.map((o) => o.tradeId)],
      );
      expect(openings.map((o) => rows.find((r) => r.id === o.tradeId)?.fiat_amount)).toEqual(cases.map((c) => c.fiat));
    });

    it('when the payment-window minute in settings changes, then the deadlines of trades opened after follow it', async () => {
      const [setting] = await h.runtime.db.query<{ payment_minute_ms: number }>(
        'SELECT payment_minute_ms FROM settings',
      );
      expect(setting!.payment_minute_ms).toBe(h.config.PAYMENT_MINUTE_MS);
      await savePaymentMinute(h.runtime.db, 20);
      try {
        await fund(h, 'ot-window', 'BTC', '1');
        const opening = tradeOpening({ sellerId: 'ot-window', paymentWindowMinutes: 45 });
        await openTrades(h, [opening]);
        const [trade] = await h.runtime.db.query<{ window_ms: string }>(
          `SELECT (extract(epoch FROM payment_deadline - created_at) * 1000)::bigint::text AS window_ms FROM trades WHERE id = $1`,
          [opening.tradeId],
        );
        expect(trade!.window_ms).toBe(String(45 * 20));
      } finally {
        await savePaymentMinute(h.runtime.db, h.config.PAYMENT_MINUTE_MS);
      }
    });

    it("when a trade opens inside the caller's transaction, then trade.created is in the outbox with it, valid against its contract; rolled back, nothing of it stays", async () => {
      await fund(h, 'ot-event', 'BTC', '1');
      const opening = tradeOpening({ sellerId: 'ot-event', amount: '0.25', price: '50000.10' });
      expect(await h.runtime.db.transaction((tx) => openTrades(h, [opening], tx))).toEqual(['OK']);
      const rows = await h.runtime.db.query<{ payload: unknown }>(
        `SELECT payload FROM outbox WHERE type = 'trade.created' AND payload->>'tradeId' = $1`,
        [opening.tradeId],
      );
      expect(rows).toHaveLength(1);
      expect(eventSchemas['trade.created'].parse(rows[0]!.payload)).toEqual({
        tradeId: opening.tradeId,
        matchId: opening.matchId,
        buyerId: opening.buyerId,
        sellerId: 'ot-event',
        asset: 'BTC',
        fiatCurrency: 'USD',
        amount: '0.25000000',
        price: '50000.10',
        fiatAmount: '12500.03',
      });

      const rolledBack = tradeOpening({ sellerId: 'ot-event', amount: '0.25' });
      const rollback = new Error('the order-book transaction failed after the call');
      await expect(
        h.runtime.db.transaction(async (tx) => {
          expect(await openTrades(h, [rolledBack], tx)).toEqual(['OK']);
          throw rollback;
        }),
      ).rejects.toBe(rollback);
      expect(await writtenAbout(refsOf([rolledBack]))).toEqual(nothing);
      expect(await balance(h, 'ot-event', 'BTC')).toMatchObject({ available: '0.75000000', inEscrow: '0.25000000' });
    });

    it('when an opening is not covered (from a hold or from AVAILABLE), then INSUFFICIENT and it writes nothing: no escrow, no trade, no outbox row, nobody marked active', async () => {
      await fund(h, 'ot-short', 'ETH', '0.5');
      const hold = sellHold('ot-short', 'ETH', '0.3');
      await placeSellHolds(h, [hold]);
      const short = [
        tradeOpening({ sellerId: 'ot-short', asset: 'ETH', amount: '0.20000001' }), // AVAILABLE has 0.2
        tradeOpening({ sellerId: 'ot-short', asset: 'ETH', amount: '0.2' }), // fits
        tradeOpening({
          sellerId: 'ot-short',
          asset: 'ETH',
          amount: '0.30000001',
          sellOrderId: hold.orderId,
          sellerFunding: 'HOLD',
        }), // the hold has 0.3
        tradeOpening({
          sellerId: 'ot-short',
          asset: 'ETH',
          amount: '0.1',
          sellOrderId: randomUUID(),
          sellerFunding: 'HOLD',
        }), // no such hold
      ];
      expect(await openTrades(h, short)).toEqual(['INSUFFICIENT', 'OK', 'INSUFFICIENT', 'INSUFFICIENT']);
      const refused = [short[0]!, short[2]!, short[3]!];
      expect(await writtenAbout(refsOf(refused))).toEqual(nothing);
      expect(await activeUsers(refused.map((o) => o.buyerId))).toEqual([]);
      expect(await balance(h, 'ot-short', 'ETH')).toMatchObject({
        available: '0.00000000',
        held: '0.30000000',
        inEscrow: '0.20000000',
      });
    });

    it('when a trade is opened again (in the same call, a later one, or several at once), then DUPLICATE: the escrow moves once and one trade and one trade.created exist', async () => {
      await fund(h, 'ot-dup', 'BTC', '1');
      const opening = tradeOpening({ sellerId: 'ot-dup', amount: '0.2' });
      const outcomes = (await Promise.all([1, 2, 3].map(() => openTrades(h, [opening])))).flat();
      expect(outcomes.sort()).toEqual(['DUPLICATE', 'DUPLICATE', 'OK']);
      expect(await openTrades(h, [opening, opening])).toEqual(['DUPLICATE', 'DUPLICATE']);
      const again = tradeOpening({ sellerId: 'ot-dup', amount: '0.2' });
      expect(await openTrades(h, [again, again])).toEqual(['OK', 'DUPLICATE']);
      expect(await balance(h, 'ot-dup', 'BTC')).toMatchObject({ available: '0.60000000', inEscrow: '0.40000000' });
      expect(await writtenAbout(refsOf([opening]))).toEqual({ journals: 1, trades: 1, outbox: 1, holds: 0 });
      expect(await writtenAbout(refsOf([again]))).toEqual({ journals: 1, trades: 1, outbox: 1, holds: 0 });
    });
  });

  describe('refused input', () => {
    // A seller of its own per test, funded in both assets used: a refused call must leave both as they were.
    let seller: string;

    beforeEach(async () => {
      seller = `bad-${randomUUID().slice(0, 8)}`;
      await fund(h, seller, 'BTC', '1');
      await fund(h, seller, 'USDC', '10');
    });

    /** The functions called with raw JSON, as a caller that skips the TypeScript contract would. */
    const rawOpen = async (docs: object[]) => {
      const [row] = await h.runtime.db.query<{ outcomes: unknown }>(
        `SELECT ${openTradesExpression('$1')} AS outcomes`,
        [JSON.stringify(docs)],
      );
      return ledgerOutcomes(row!.outcomes, docs.length, 'raw open_trades');
    };
    const rawHold = async (docs: object[]) => {
      const [row] = await h.runtime.db.query<{ outcomes: unknown }>(
        placeSellHoldsCall([sellHold(seller, 'BTC', '1')]).sql,
        [JSON.stringify(docs)],
      );
      return ledgerOutcomes(row!.outcomes, docs.length, 'raw place_sell_holds');
    };

    async function expectNothingWritten(refs: string[]): Promise<void> {
      expect(await writtenAbout(refs)).toEqual(nothing);
      expect([await balance(h, seller, 'BTC'), await balance(h, seller, 'USDC')]).toEqual([
        { asset: 'BTC', available: '1.00000000', held: '0.00000000', inEscrow: '0.00000000' },
        { asset: 'USDC', available: '10.000000', held: '0.000000', inEscrow: '0.000000' },
      ]);
    }

    /** Refused twice over: by the TypeScript contract before anything is sent, and by the function itself (22023) when sent anyway. */
    async function expectRefused(
      typed: () => Promise<unknown>,
      raw: () => Promise<unknown>,
      refs: string[],
    ): Promise<void> {
      await expect(typed()).rejects.toBeInstanceOf(ZodError);
      expect(await sqlStateOf(raw())).toBe('22023');
      await expectNothingWritten(refs);
    }

    it.each([
      ['the buyer is the seller', (sellerId: string) => ({ buyerId: sellerId })],
      ['a zero amount', () => ({ amount: '0' })],
      ['a zero price', () => ({ price: '0.00' })],
      ['HOLD funding without a sell order', () => ({ sellerFunding: 'HOLD' as const, sellOrderId: null })],
    ])(
      'when an opening has %s, then the whole call is refused (by the contract, and with 22023 by the function) and nothing of it is written',
      async (_name, overrides) => {
        const valid = tradeOpening({ sellerId: seller, amount: '0.01' });
        const invalid = tradeOpening({ sellerId: seller, amount: '0.01', ...overrides(seller) });
        await expectRefused(
          () => openTrades(h, [valid, invalid]),
          () => rawOpen([valid, invalid]),
          refsOf([valid, invalid]),
        );
      },
    );

    it('when a hold has a zero amount, then the whole call is refused (by the contract, and with 22023 by the function) and nothing of it is written', async () => {
      const valid = sellHold(seller, 'BTC', '0.01');
      const invalid = sellHold(seller, 'BTC', '0');
      await expectRefused(
        () => placeSellHolds(h, [valid, invalid]),
        () => rawHold([valid, invalid]),
        [valid.orderId, invalid.orderId],
      );
    });

    it('when an input the contract cannot even express comes anyway (a missing id, a negative amount, an unknown asset), then the functions refuse it with 22023', async () => {
      const opening = tradeOpening({ sellerId: seller, amount: '0.01' });
      expect(await sqlStateOf(rawOpen([{ ...opening, tradeId: undefined }]))).toBe('22023');
      expect(await sqlStateOf(rawOpen([{ ...opening, amount: '-0.01' }]))).toBe('22023');
      expect(await sqlStateOf(rawOpen([{ ...opening, asset: 'DOGE' }]))).toBe('22023');
      const hold = sellHold(seller, 'BTC', '-0.5');
      expect(await sqlStateOf(rawHold([hold]))).toBe('22023');
      expect(await sqlStateOf(rawHold([{ ...hold, amount: '0.5', asset: 'DOGE' }]))).toBe('22023');
      await expectNothingWritten([...refsOf([opening]), hold.orderId]);
    });

    // The contract's decimal takes 8 places for every asset and price; only the asset knows its scale, and a trade's
    // price is stored in cents. A trade of 1.1234567 USDC could never settle: its amount is no number of USDC units.
    it.each([
      [
        "an opening's amount is finer than its asset allows (USDC has 6 decimals)",
        (sellerId: string) => tradeOpening({ sellerId, asset: 'USDC', price: '1.00', amount: '1.1234567' }),
      ],
      [
        "an opening's price is finer than a cent",
        (sellerId: string) => tradeOpening({ sellerId, price: '50000.005', amount: '0.01' }),
      ],
    ])(
      'when %s, then the call is refused (by the contract, and with 22023 by the function) and nothing is written',
      async (_name, make) => {
        const opening = make(seller);
        await expectRefused(
          () => openTrades(h, [opening]),
          () => rawOpen([opening]),
          refsOf([opening]),
        );
      },
    );

    it("when a hold's amount is finer than its asset allows (USDC has 6 decimals), then the call is refused (by the contract, and with 22023 by the function) and nothing is written", async () => {
      const hold = sellHold(seller, 'USDC', '1.1234567');
      await expectRefused(
        () => placeSellHolds(h, [hold]),
        () => rawHold([hold]),
        [hold.orderId],
      );
    });
  });

  describe('the buyer limits an opening carries', () => {
    // order-book reads a buyer's standing without a lock and decides with it; open_trades keeps the cap exactly, so
    // that a buyer racing orders and takes across markets cannot pass it: the placement that lost runs again.
    it("when a buyer's trades would pass the cap their openings were decided with (another market committed first), then 40001 and nothing is written", async () => {
      await fund(h, 'cap-seller', 'BTC', '1');
      const buyerId = `cap-buyer-${randomUUID().slice(0, 8)}`;
      const opening = (buyerTradesMax: number) =>
        tradeOpening({ sellerId: 'cap-seller', buyerId, amount: '0.01', buyerTradesMax });
      expect(await openTrades(h, [opening(2), opening(2)])).toEqual(['OK', 'OK']);
      const third = opening(2);
      expect(await sqlStateOf(openTrades(h, [third]))).toBe('40001');
      expect(await writtenAbout(refsOf([third]))).toEqual(nothing);
      expect(await balance(h, 'cap-seller', 'BTC')).toMatchObject({ available: '0.98000000', inEscrow: '0.02000000' });
      // Decided with a higher cap (a merchant's), the same opening goes through.
      expect(await openTrades(h, [{ ...third, buyerTradesMax: 3 }])).toEqual(['OK']);
    });

    it('when a buyer was suspended by cancels that committed after the read, then 40001; with no suspension threshold, the opening goes through', async () => {
      await fund(h, 'susp-seller', 'BTC', '1');
      const buyerId = `susp-buyer-${randomUUID().slice(0, 8)}`;
      await h.runtime.db.query(
        `INSERT INTO buyer_standing (user_id, recent_cancels) VALUES ($1, ARRAY[now() - interval '2 hours', now() - interval '1 hour', now()])`,
        [buyerId],
      );
      const opening = tradeOpening({ sellerId: 'susp-seller', buyerId, amount: '0.01', buyerCancelsMax: 3 });
      expect(await sqlStateOf(openTrades(h, [opening]))).toBe('40001');
      expect(await writtenAbout(refsOf([opening]))).toEqual(nothing);
      expect(await openTrades(h, [{ ...opening, buyerCancelsMax: 0 }])).toEqual(['OK']);
    });
  });

  it("when the caller's search_path is another schema (with look-alike tables in it), then the functions (holds, openings, releases) still write the trade schema's tables only", async () => {
    await fund(h, 'sp-seller', 'BTC', '1');
    const client = new pg.Client({ connectionString: h.testDb.url });
    await client.connect();
    const decoys = [
      'accounts',
      'journals',
      'entries',
      'order_holds',
      'trades',
      'outbox',
      'settings',
      'user_activity_hours',
    ];
    try {
      for (const table of decoys)
        await client.query(`CREATE TABLE public.${table} (LIKE trade.${table} INCLUDING DEFAULTS)`);
      await client.query('SET search_path TO public');
      const hold = sellHold('sp-seller', 'BTC', '0.5');
      const call = placeSellHoldsCall([hold]);
      expect((await client.query(call.sql, call.params)).rows[0].outcomes).toEqual(['OK']);
      const opening = tradeOpening({
        sellerId: 'sp-seller',
        sellOrderId: hold.orderId,
        sellerFunding: 'HOLD',
        amount: '0.2',
      });
      expect(
        (await client.query(`SELECT ${openTradesExpression('$1')} AS outcomes`, [tradeOpeningsJson([opening])])).rows[0]
          .outcomes,
      ).toEqual(['OK']);
      expect(await balance(h, 'sp-seller', 'BTC')).toMatchObject({
        available: '0.50000000',
        held: '0.30000000',
        inEscrow: '0.20000000',
      });
      const release = releaseSellHoldCall({
        orderId: hold.orderId,
        userId: 'sp-seller',
        asset: 'BTC',
        remaining: '0.3',
      });
      expect((await client.query(release.sql, release.params)).rows[0].outcome).toBe('OK');

      expect(await balance(h, 'sp-seller', 'BTC')).toMatchObject({
        available: '0.80000000',
        held: '0.00000000',
        inEscrow: '0.20000000',
      });
      expect(
        await h.runtime.db.query('SELECT status, released::text FROM order_holds WHERE order_id = $1', [hold.orderId]),
      ).toEqual([{ status: 'RELEASED', released: '0.30000000' }]);
      expect(await writtenAbout([hold.orderId, ...refsOf([opening])])).toEqual({
        journals: 3,
        trades: 1,
        outbox: 1,
        holds: 1,
      });
      for (const table of decoys)
        expect((await client.query(`SELECT count(*)::int AS n FROM public.${table}`)).rows[0].n).toBe(0);
    } finally {
      await client.query('RESET search_path').catch(() => undefined);
      for (const table of decoys) await client.query(`DROP TABLE IF EXISTS public.${table}`).catch(() => undefined);
      await client.end();
    }
  });

  it('when place_sell_holds waits for one account, then it holds none of the others yet, so a transaction holding that account can still take them: no lock cycle', async () => {
    await fund(h, 'lk-1', 'BTC', '1');
    await fund(h, 'lk-2', 'BTC', '1');
    const [low, high] = await h.testDb.query<{ id: string; owner_id: string }>(
      `SELECT id::text, owner_id FROM accounts WHERE kind = 'AVAILABLE' AND asset = 'BTC' AND owner_id IN ('lk-1', 'lk-2') ORDER BY id`,
    );
    // The blocker locks accounts as their owner: the service's role sees none of them (row-level security).
    const blocker = new pg.Client({ connectionString: h.testDb.url });
    await blocker.connect();
    const caller = await h.runtime.db.primary.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('SELECT 1 FROM trade.accounts WHERE id = $1 FOR UPDATE', [low!.id]);
      await caller.query('BEGIN');
      const pid: number = (await caller.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      // The first hold touches only the higher account: posting hold by hold would lock it before waiting.
      const call = placeSellHoldsCall([sellHold(high!.owner_id, 'BTC', '0.1'), sellHold(low!.owner_id, 'BTC', '0.1')]);
      const placing = caller.query<{ outcomes: string[] }>(call.sql, call.params);
      await eventually(
        async () =>
          (
            await h.runtime.db.query<{ wait: string | null }>(
              'SELECT wait_event_type AS wait FROM pg_stat_activity WHERE pid = $1',
              [pid],
            )
          )[0]?.wait === 'Lock',
      );

      await expect(
        blocker.query('SELECT 1 FROM trade.accounts WHERE id = $1 FOR UPDATE NOWAIT', [high!.id]),
      ).resolves.toMatchObject({ rowCount: 1 });
      await blocker.query('COMMIT');
      expect((await placing).rows[0]!.outcomes).toEqual(['OK', 'OK']);
      await caller.query('COMMIT');
    } finally {
      // Destroyed, not returned: after a failure either may still be inside its transaction.
      await blocker.end();
      caller.release(true);
    }
    expect(await balance(h, 'lk-1', 'BTC')).toMatchObject({ available: '0.90000000', held: '0.10000000' });
    expect(await balance(h, 'lk-2', 'BTC')).toMatchObject({ available: '0.90000000', held: '0.10000000' });
  });

  it('when holds, openings and releases of the same sellers run at once from several connections in opposite orders, then none deadlocks, each claim is answered once, each release gives back exactly what its hold kept, and the books balance', async () => {
    const sellers = Array.from({ length: 4 }, (_, i) => `race-${i}`);
    for (const s of sellers) await fund(h, s, 'BTC', '1');
    // A release sends its order's remainder (0.4 less what its trades took), as order-book computes it. Without
    // order-book's market lock an opening can commit between that read and the release, which then finds less held
    // than it was told, fails (23514, nothing moves) and is sent again with the new remainder.
    const remainderOf = async (orderId: string) =>
      (
        await h.runtime.db.query<{ remaining: string }>(
          'SELECT (0.4 - coalesce(sum(amount), 0))::text AS remaining FROM trades WHERE sell_order_id = $1',
          [orderId],
        )
      )[0]!.remaining;
    const cancel = async (x: SellHold) => {
      for (let attempt = 1; ; attempt += 1) {
        try {
          return await releaseSellHold(h, {
            orderId: x.orderId,
            userId: x.userId,
            asset: 'BTC',
            remaining: await remainderOf(x.orderId),
          });
        } catch (error) {
          if (attempt >= 5 || (error as { code?: string }).code !== '23514') throw error;
        }
      }
    };

    // Wave 1: three claims of 0.4 per seller (two fit): two calls of holds in opposite seller orders, and one opening from AVAILABLE each.
    const holds = sellers.flatMap((s) => [sellHold(s, 'BTC', '0.4'), sellHold(s, 'BTC', '0.4')]);
    const evens = holds.filter((_, i) => i % 2 === 0);
    const odds = holds.filter((_, i) => i % 2 === 1).reverse();
    const direct = sellers.map((s, i) =>
      tradeOpening({ sellerId: s, buyerId: sellers[(i + 1) % sellers.length], amount: '0.4' }),
    );
    const [evenOutcomes, oddOutcomes, ...directOutcomes] = await Promise.all([
      placeSellHolds(h, evens),
      placeSellHolds(h, odds),
      ...direct.map((o) => openTrades(h, [o])),
    ]);
    const holdOutcome = new Map<string, LedgerOutcome>([
      ...evens.map((x, i) => [x.orderId, evenOutcomes![i]!] as const),
      ...odds.map((x, i) => [x.orderId, oddOutcomes![i]!] as const),
    ]);
    for (const [i, s] of sellers.entries()) {
      const claims = [
        ...holds.filter((x) => x.userId === s).map((x) => holdOutcome.get(x.orderId)),
        directOutcomes[i]![0],
      ];
      expect(claims.filter((c) => c === 'OK')).toHaveLength(2);
      expect(claims.filter((c) => c === 'INSUFFICIENT')).toHaveLength(1);
    }

    // Wave 2: two openings of 0.25 from every placed hold (one fits), in two calls in opposite orders, while the holds are released.
    const placed = holds.filter((x) => holdOutcome.get(x.orderId) === 'OK');
    const fromHolds = placed.flatMap((x) =>
      [0, 1].map(() =>
        tradeOpening({ sellerId: x.userId, sellOrderId: x.orderId, sellerFunding: 'HOLD', amount: '0.25' }),
      ),
    );
    const first = fromHolds.filter((_, i) => i % 2 === 0);
    const second = fromHolds.filter((_, i) => i % 2 === 1).reverse();
    const [firstOutcomes, secondOutcomes, ...releases] = await Promise.all([
      openTrades(h, first),
      openTrades(h, second),
      ...placed.map(cancel),
    ]);
    expect(releases).toEqual(placed.map(() => 'OK'));
    const outcomes = [...(firstOutcomes as LedgerOutcome[]), ...(secondOutcomes as LedgerOutcome[])];
    expect(outcomes.every((o) => o === 'OK' || o === 'INSUFFICIENT')).toBe(true);
    const opened = [...first, ...second].filter((_, i) => outcomes[i] === 'OK');
    const trades = await h.runtime.db.query<{ id: string }>('SELECT id FROM trades WHERE id = ANY ($1::text[])', [
      fromHolds.map((o) => o.tradeId),
    ]);
    expect(trades.map((t) => t.id).sort()).toEqual(opened.map((o) => o.tradeId).sort());
    for (const s of sellers) {
      const b = await balance(h, s, 'BTC');
      const units = (d: string) => BigInt(d.replace('.', ''));
      expect(units(b.available) + units(b.held) + units(b.inEscrow)).toBe(100_000_000n);
      expect(b.held).toBe('0.00000000');
    }
    // Each hold gave back exactly what its trades left of it.
    const released = await h.runtime.db.query<{ order_id: string; status: string; accounted: string }>(
      `SELECT h.order_id, h.status, (h.released + coalesce((SELECT sum(t.amount) FROM trades t WHERE t.sell_order_id = h.order_id), 0))::numeric(38, 8)::text AS accounted
       FROM order_holds h WHERE h.order_id = ANY ($1::text[])`,
      [placed.map((x) => x.orderId)],
    );
    const byOrder = (a: { order_id: string }, b: { order_id: string }) => (a.order_id < b.order_id ? -1 : 1);
    expect(released.sort(byOrder)).toEqual(
      placed.map((x) => ({ order_id: x.orderId, status: 'RELEASED', accounted: '0.40000000' })).sort(byOrder),
    );
    expect(await verify(h)).toMatchObject({ ok: true });
  });
});

/**
 * A seeded random walk over the order path as the services drive it: deposits, SELL holds and trade openings
 * (from holds and from AVAILABLE) in calls of one to three, releases of cancelled orders' holds (mostly with the
 * remainder, as order-book sends it; sometimes with another amount, which must fail and move nothing), completions
 * over HTTP and payment timeouts through the sweeper. A model predicts every outcome; afterwards every balance matches the
 * model, the books verify, and every hold holds its amount minus what its trades took minus what was released.
 */
describe('order path property', () => {
  const SEED = 20261203;
  const RUNS = 30;
  const OPS_MAX = 30;
  const USERS = 3;
  const ASSETS_USED: Asset[] = ['BTC', 'USDT'];
  const STARTING_UNITS = 3_000_000n;

  let h: Harness;

  beforeAll(async () => {
    h = await createHarness();
  });

  afterAll(() => h.close());

  const user = fc.integer({ min: 0, max: USERS - 1 });
  const asset = fc.constantFrom(...ASSETS_USED);
  /** Often a third, a half or two thirds of a starting balance, so that two claims fit alone but not together. */
  const units = fc.oneof(fc.bigInt({ min: 1n, max: 2_000_000n }), fc.constantFrom(1_000_000n, 1_500_000n, 2_000_000n));
  const pick = fc.nat({ max: 1000 });
  const opening = fc.record({ fromHold: fc.boolean(), order: pick, seller: user, buyer: user, asset, units });
  const weighted = <T>(weight: number, arbitrary: fc.Arbitrary<T>) => ({ weight, arbitrary });
  const op = fc.oneof(
    weighted(1, fc.record({ kind: fc.constant('deposit' as const), user, asset, units })),
    weighted(
      4,
      fc.record({
        kind: fc.constant('sell' as const),
        user,
        asset,
        units: fc.array(units, { minLength: 1, maxLength: 3 }),
      }),
    ),
    weighted(
      5,
      fc.record({ kind: fc.constant('open' as const), openings: fc.array(opening, { minLength: 1, maxLength: 3 }) }),
    ),
    weighted(
      2,
      fc.record({
        kind: fc.constant('cancel' as const),
        order: pick,
        units,
        exact: fc.oneof(weighted(3, fc.constant(true)), weighted(1, fc.constant(false))),
      }),
    ),
    weighted(2, fc.record({ kind: fc.constant('complete' as const), trade: pick })),
    weighted(2, fc.record({ kind: fc.constant('timeout' as const), trade: pick })),
    weighted(1, fc.record({ kind: fc.constant('repeat' as const) })),
  );
  type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

  /** What the ledger should hold, in minor units, and which movements happened (their journals). */
  interface Model {
    available: Map<string, bigint>;
    holds: Map<string, { userId: string; asset: Asset; held: bigint; status: 'PLACED' | 'RELEASED' }>;
    trades: Map<
      string,
      { opening: TradeOpening; units: bigint; status: 'AWAITING_PAYMENT' | 'COMPLETED' | 'CANCELLED' }
    >;
    journals: Set<string>;
  }

  const amountOf = (a: Asset, u: bigint) => fromUnits(u, ASSET_SCALES[a]);
  const unitsOf = (d: string) => BigInt(d.replace('.', ''));
  const key = (userId: string, a: Asset) => `${userId}/${a}`;
  const availableOf = (m: Model, userId: string, a: Asset) => m.available.get(key(userId, a)) ?? 0n;
  const addAvailable = (m: Model, userId: string, a: Asset, u: bigint) =>
    m.available.set(key(userId, a), availableOf(m, userId, a) + u);

  function predictHolds(m: Model, holds: SellHold[]): LedgerOutcome[] {
    return holds.map((x) => {
      const u = unitsOf(x.amount);
      if (m.journals.has(`hold:${x.orderId}`)) return 'DUPLICATE';
      if (availableOf(m, x.userId, x.asset) < u) return 'INSUFFICIENT';
      addAvailable(m, x.userId, x.asset, -u);
      m.holds.set(x.orderId, { userId: x.userId, asset: x.asset, held: u, status: 'PLACED' });
      m.journals.add(`hold:${x.orderId}`);
      return 'OK';
    });
  }

  function predictOpenings(m: Model, openings: TradeOpening[]): LedgerOutcome[] {
    return openings.map((o) => {
      const u = unitsOf(o.amount);
      if (m.journals.has(`escrow:${o.tradeId}`)) return 'DUPLICATE';
      const hold = o.sellerFunding === 'HOLD' ? m.holds.get(o.sellOrderId!) : undefined;
      const source = o.sellerFunding === 'HOLD' ? (hold?.held ?? 0n) : availableOf(m, o.sellerId, o.asset);
      if (source < u) return 'INSUFFICIENT';
      if (hold) hold.held -= u;
      else addAvailable(m, o.sellerId, o.asset, -u);
      m.trades.set(o.tradeId, { opening: o, units: u, status: 'AWAITING_PAYMENT' });
      m.journals.add(`escrow:${o.tradeId}`);
      return 'OK';
    });
  }

  it("when random deposits, holds, openings, cancels, completions and timeouts happen, then every outcome is the model's, balances match it, the books verify, and every hold holds its amount minus what its trades took minus what was released", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: OPS_MAX }), async (ops: Op[]) => {
        run += 1;
        const users = Array.from({ length: USERS }, (_, i) => `prop${run}-u${i}`);
        const m: Model = { available: new Map(), holds: new Map(), trades: new Map(), journals: new Set() };
        for (const u of users) {
          for (const a of ASSETS_USED) {
            await fund(h, u, a, amountOf(a, STARTING_UNITS));
            addAvailable(m, u, a, STARTING_UNITS);
          }
        }
        const otherThan = (userId: string, i: number) => (users[i] === userId ? users[(i + 1) % USERS]! : users[i]!);
        let repeat: (() => Promise<void>) | undefined;
        const holdCall = async (holds: SellHold[]) => {
          expect(await placeSellHolds(h, holds)).toEqual(predictHolds(m, holds));
          repeat = () => holdCall(holds);
        };
        const openCall = async (openings: TradeOpening[]) => {
          expect(await openTrades(h, openings)).toEqual(predictOpenings(m, openings));
          repeat = () => openCall(openings);
        };
        const pickTrade = (i: number) => [...m.trades.entries()][i % m.trades.size];

        for (const o of ops) {
          switch (o.kind) {
            case 'deposit':
              await fund(h, users[o.user]!, o.asset, amountOf(o.asset, o.units));
              addAvailable(m, users[o.user]!, o.asset, o.units);
              break;
            case 'sell':
              await holdCall(o.units.map((u) => sellHold(users[o.user]!, o.asset, amountOf(o.asset, u))));
              break;
            case 'open': {
              const orders = [...m.holds.entries()];
              await openCall(
                o.openings.map((x) => {
                  const order = x.fromHold && orders.length > 0 ? orders[x.order % orders.length]! : undefined;
                  const sellerId = order ? order[1].userId : users[x.seller]!;
                  const a = order ? order[1].asset : x.asset;
                  return tradeOpening({
                    sellerId,
                    buyerId: otherThan(sellerId, x.buyer),
                    asset: a,
                    amount: amountOf(a, x.units),
                    price: '123.45',
                    paymentWindowMinutes: 30,
                    sellOrderId: order ? order[0] : null,
                    sellerFunding: order ? 'HOLD' : 'AVAILABLE',
                  });
                }),
              );
              break;
            }
            case 'cancel': {
              // order-book cancels only orders it opened, so only placed holds.
              const orders = [...m.holds.entries()];
              if (orders.length === 0) break;
              const [orderId, hold] = orders[o.order % orders.length]!;
              // The order's remainder is what its hold still holds; a repeat sends the same amount, whatever happened since.
              const release = {
                orderId,
                userId: hold.userId,
                asset: hold.asset,
                remaining: amountOf(hold.asset, o.exact ? hold.held : o.units),
              };
              repeat = async () => {
                if (hold.status !== 'PLACED') {
                  expect(await releaseSellHold(h, release)).toBe('DUPLICATE');
                } else if (unitsOf(release.remaining) !== hold.held) {
                  expect({ release, sqlState: await sqlStateOf(releaseSellHold(h, release)) }).toEqual({
                    release,
                    sqlState: '23514',
                  });
                } else {
                  expect(await releaseSellHold(h, release)).toBe('OK');
                  addAvailable(m, hold.userId, hold.asset, hold.held);
                  hold.held = 0n;
                  hold.status = 'RELEASED';
                }
              };
              await repeat();
              break;
            }
            case 'complete': {
              if (m.trades.size === 0) break;
              const [tradeId, t] = pickTrade(o.trade)!;
              const res = await request(h.app)
                .post(`/api/v1/trades/${tradeId}/release`)
                .set(h.as(t.opening.sellerId))
                .send({});
              expect(res.status).toBe(t.status === 'AWAITING_PAYMENT' ? 200 : 409);
              if (t.status !== 'AWAITING_PAYMENT') break;
              t.status = 'COMPLETED';
              addAvailable(m, t.opening.buyerId, t.opening.asset, t.units);
              break;
            }
            case 'timeout': {
              if (m.trades.size === 0) break;
              const [tradeId, t] = pickTrade(o.trade)!;
              await expireDeadline(h, tradeId);
              expect(await h.deadlines.sweepNow()).toBe(t.status === 'AWAITING_PAYMENT' ? 1 : 0);
              if (t.status !== 'AWAITING_PAYMENT') break;
              t.status = 'CANCELLED';
              addAvailable(m, t.opening.sellerId, t.opening.asset, t.units);
              break;
            }
            case 'repeat':
              await repeat?.();
              break;
          }
        }

        for (const u of users) {
          for (const a of ASSETS_USED) {
            const held = [...m.holds.values()]
              .filter((x) => x.userId === u && x.asset === a)
              .reduce((sum, x) => sum + x.held, 0n);
            const inEscrow = [...m.trades.values()]
              .filter((t) => t.opening.sellerId === u && t.opening.asset === a && t.status === 'AWAITING_PAYMENT')
              .reduce((sum, t) => sum + t.units, 0n);
            expect({ user: u, ...(await balance(h, u, a)) }).toEqual({
              user: u,
              asset: a,
              available: amountOf(a, availableOf(m, u, a)),
              held: amountOf(a, held),
              inEscrow: amountOf(a, inEscrow),
            });
          }
        }
        expect(await verify(h)).toMatchObject({ ok: true });
        const orderIds = [...m.holds.keys()];
        const holdRows = await h.runtime.db.query<{ order_id: string; status: string }>(
          'SELECT order_id, status FROM order_holds WHERE order_id = ANY ($1::text[])',
          [orderIds],
        );
        expect(Object.fromEntries(holdRows.map((r) => [r.order_id, r.status]))).toEqual(
          Object.fromEntries([...m.holds].map(([id, x]) => [id, x.status])),
        );
        const unaccounted = await h.testDb.query(
          `SELECT h.order_id, h.status, coalesce(a.balance, 0)::text AS held, h.amount::text, h.released::text, coalesce(t.took, 0)::text AS took
           FROM order_holds h
           LEFT JOIN accounts a ON a.kind = 'HELD' AND a.owner_id = h.user_id AND a.ref_id = h.order_id AND a.asset = h.asset
           LEFT JOIN (SELECT sell_order_id, sum(amount) AS took FROM trades GROUP BY sell_order_id) t ON t.sell_order_id = h.order_id
           WHERE h.order_id = ANY ($1::text[]) AND coalesce(a.balance, 0) <> h.amount - coalesce(t.took, 0) - h.released`,
          [orderIds],
        );
        expect(unaccounted).toEqual([]);
      }),
      // A failure is reported as found (shrinking would re-run a database walk many times over).
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
  }, 180_000);
});
