import { AppError, type IdempotencyClaim } from '@orrange/http';
import { ASSET_SCALES, FIAT_SCALE, toUnits } from '@orrange/money';
import type { Placed } from '../src/domain/match-batch';
import type { OrderBookDeps } from '../src/domain/order-book.deps';
import { MarketBatcher, placeOrder, type PlaceOrderInput } from '../src/domain/place-order.use-case';
import { createHarness, type Harness } from './harness';

/**
 * An order waits in its market's queue while the transactions ahead of it run. Past ORDER_QUEUE_WAIT_MAX_MS it is
 * answered 503 SERVICE.OVERLOADED when its turn comes, having changed nothing: no order, no claimed
 * Idempotency-Key, so the client's retry is placed as if it came first.
 */
describe("an order's wait in its market's queue", () => {
  let harness: Harness;
  const sql = <R = Record<string, unknown>>(text: string, params?: unknown[]) => harness.testDb.query<R>(text, params);

  beforeAll(async () => {
    harness = await createHarness();
  });

  afterAll(() => harness.close());

  const bid = (userId: string, price: string): PlaceOrderInput => ({
    userId,
    side: 'BUY',
    asset: 'BTC',
    fiatCurrency: 'EUR',
    price: toUnits(price, FIAT_SCALE),
    amount: toUnits('0.01', ASSET_SCALES.BTC),
    minFill: 1n,
    paymentMethods: ['SEPA'],
    paymentMethodIds: [],
    paymentWindowMinutes: 30,
    terms: null,
    minFiat: null,
    maxFiat: null,
    expiresAt: null,
    merchant: false,
  });
  const keyOf = (key: string) => ({
    claim: { scope: 'test:queue-wait', key, requestHash: `hash-${key}` } satisfies IdempotencyClaim,
    answer: (placed: Placed) => ({ id: placed.order.id }),
  });

  /** Takes BTC/EUR's market lock in another session, as a long transaction of the market would; resolves to its release. */
  async function holdMarketLock(): Promise<() => Promise<void>> {
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked!: () => void;
    const lockTaken = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const holder = harness.testDb.transaction(async (client) => {
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('BTC/EUR'))`);
      locked();
      await released;
    });
    await lockTaken;
    return () => {
      release();
      return holder;
    };
  }

  const unfundedAsk = (userId: string): PlaceOrderInput => ({ ...bid(userId, '500.00'), side: 'SELL' });
  const outcomeOf = (placing: Promise<Placed>) =>
    placing.then(
      () => 'placed',
      (error: unknown) => (error instanceof AppError ? `${error.status} ${error.code}` : String(error)),
    );

  /**
   * Behind a market held busy for 300 ms: a lead BUY (its transaction waits for the lock), then an unfunded SELL and
   * three BUYs, each side a batch of its own. At the first batch after the release the queue's oldest order has
   * waited far past 20 ms, and at the next one it still has.
   */
  async function behindBusyMarket(options: { standingMs: number }, prefix: string) {
    const shed: Array<[string, number]> = [];
    const deps: OrderBookDeps = {
      ...harness.deps,
      batcher: new MarketBatcher(() => deps, {
        queueWaitMaxMs: 20,
        standingMs: options.standingMs,
        onShed: (market, count) => shed.push([market, count]),
      }),
    };
    const release = await holdMarketLock();
    const lead = outcomeOf(placeOrder(deps, bid(`${prefix}-lead`, '90.00'), keyOf(`${prefix}-lead`)));
    const ask = outcomeOf(placeOrder(deps, unfundedAsk(`${prefix}-ask`), keyOf(`${prefix}-ask`)));
    const bids = [1, 2, 3].map((i) =>
      outcomeOf(placeOrder(deps, bid(`${prefix}-bid-${i}`, '91.00'), keyOf(`${prefix}-bid-${i}`))),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    await release();
    return { lead: await lead, ask: await ask, bids: await Promise.all(bids), shed, deps };
  }

  it('when the queue stays behind for its interval, then the orders that waited too long are answered 503 and leave nothing behind', async () => {
    const { lead, ask, bids, shed, deps } = await behindBusyMarket({ standingMs: 1 }, 'qw');

    // The first batch after the release only sees the queue behind; by the next one it has stood for the interval.
    expect(lead).toBe('placed');
    expect(ask).toBe('409 WALLET.INSUFFICIENT_FUNDS');
    expect(bids).toEqual(['503 SERVICE.OVERLOADED', '503 SERVICE.OVERLOADED', '503 SERVICE.OVERLOADED']);
    expect(shed).toEqual([['BTC/EUR', 3]]);
    const placedBy = await sql<{ user_id: string }>(`SELECT user_id FROM orders WHERE user_id LIKE 'qw-%'`);
    expect(placedBy.map((r) => r.user_id)).toEqual(['qw-lead']);
    // The lead's success and the SELL's 409 are recorded (the 409 by the route, once sent); the shed ones claimed nothing.
    const keys = await sql<{ key: string }>(`SELECT key FROM idempotency_keys WHERE key LIKE 'qw-%'`);
    expect(keys.map((k) => k.key)).toEqual(['qw-lead']);
    // The queue is quiet again: a retry of a shed order, with its key, is placed at once.
    const retried = await placeOrder(deps, bid('qw-bid-1', '91.00'), keyOf('qw-bid-1'));
    expect(retried.order.status).toBe('OPEN');
  });

  it('when a burst or one slow transaction clears within the interval, then nothing is shed', async () => {
    const { lead, ask, bids, shed } = await behindBusyMarket({ standingMs: 5_000 }, 'qw-burst');
    expect([lead, ask, ...bids]).toEqual(['placed', '409 WALLET.INSUFFICIENT_FUNDS', 'placed', 'placed', 'placed']);
    expect(shed).toEqual([]);
  });
});
