import pg from 'pg';
import { PrivateRedisServer } from '@orrange/testing';
import { Api, login, newUser, postUntilAnswered, until } from '../src/client';
import { balances, expectLedgerBalanced, liveSellRemainder } from '../src/invariants';
import { ADMIN, startStack, type Stack } from '../src/stack';

/** Shortened for the test: production runs 30 s, 5 s, 60 s. */
const REDELIVER_MS = 1_500;
const PAYMENT_MINUTE_MS = 100;
/** 40 "minutes" of 100 ms: an unpaid trade expires 4 s after it opened. */
const PAYMENT_WINDOW_MINUTES = 40;
/** Long enough for a round to assign and resolve its first dispute before its timers come due. */
const EVIDENCE_WINDOW_S = 8;
const ASSIGNMENT_TIMEOUT_S = 6;
const ESCROW_FOR: Record<string, string[]> = {
  AWAITING_PAYMENT: ['LOCKED'],
  PAID: ['LOCKED'],
  DISPUTED: ['LOCKED'],
  COMPLETED: ['RELEASED'],
  CANCELLED: ['REFUNDED'],
  RESOLVED: ['RELEASED', 'REFUNDED'],
};

/**
 * Redis loses what it was given while the stack trades: a private redis-server without persistence killed with
 * SIGKILL and started again empty, then flushed, each time with events certainly in flight (their consumer is
 * stopped with SIGSTOP while the producer hands them to Redis: trade.completed to the user service, dispute.resolved
 * to trade-execution), dispute timers and payment deadlines scheduled. Postgres, the services and the gateway are
 * untouched. Afterwards: every escrow matches its trade, every trade past its deadline expired, every dispute timer
 * past due fired once, every hold equals its order's remainder, reputation counted each trade once, the ledger balances, every event is confirmed by its
 * consumer, and the losses were repaired by re-publishing (events_republished_total).
 */
describe('end to end: Redis loses everything it held', () => {
  let stack: Stack;
  let redis: PrivateRedisServer;
  let sql: pg.Client;
  let api: Api;
  let admin: Api;
  const recoveries: string[] = [];

  beforeAll(async () => {
    redis = await PrivateRedisServer.start();
    stack = await startStack({
      env: {
        REDIS_URL: redis.url,
        QUEUE_STALL_MS: '1000',
        OUTBOX_REDELIVER_MS: String(REDELIVER_MS),
        TIMER_SWEEP_MS: '200',
        PAYMENT_MINUTE_MS: String(PAYMENT_MINUTE_MS),
        EVIDENCE_WINDOW_HOURS: String(EVIDENCE_WINDOW_S / 3600),
        DISPUTE_ASSIGNMENT_TIMEOUT_MINUTES: String(ASSIGNMENT_TIMEOUT_S / 60),
        // A service stopped with SIGSTOP is ejected by the gateway; after SIGCONT it is back within this long.
        UPSTREAM_PROBE_INTERVAL_MS: '300',
        UPSTREAM_EJECT_MS: '300',
      },
    });
    sql = new pg.Client({ connectionString: stack.testDb.url });
    await sql.connect();
    api = new Api(stack.gatewayUrl);
    admin = await login(api, ADMIN.email, ADMIN.password);
  });

  afterAll(async () => {
    console.log(`recoveries: ${recoveries.join('; ')}`);
    await sql?.end();
    await stack?.stop();
    await redis?.stop();
  });

  const post = (user: Api, path: string, body: unknown = {}) =>
    postUntilAnswered(user, path, body, { deadlineMs: 20_000, pauseMs: 100 });

  async function ok(user: Api, path: string, body: unknown = {}, expected = [200, 201]) {
    const res = await post(user, path, body);
    if (!expected.includes(res.status)) throw new Error(`${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  const signal = (label: string, sig: NodeJS.Signals) => {
    const running = stack.processes.find((p) => p.spec.label === label)!;
    running.child.kill(sig);
  };
  const count = async (query: string, params: unknown[] = []) => Number((await sql.query(query, params)).rows[0].n);
  /** Waits until the producer's relay has handed every event to Redis (and marked it published). */
  const handedToRedis = (schema: string) =>
    until(
      async () => (await count(`SELECT count(*) AS n FROM ${schema}.outbox WHERE published_at IS NULL`)) === 0,
      10_000,
    );
  const tradeView = async (user: Api, id: string) =>
    until(async () => {
      const res = await user.get(`/api/v1/trades/${id}`);
      return res.status === 200 ? res.body.trade : undefined;
    }, 20_000);

  async function metric(port: number, pattern: RegExp): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    let total = 0;
    for (const line of text.split('\n')) if (pattern.test(line)) total += Number(line.split(' ').pop());
    return total;
  }

  it('when Redis is killed -9 and restarted empty, then flushed, with events in flight and timers due, then nothing is lost or applied twice', async () => {
    const sellers = await Promise.all([0, 1].map(() => newUser(api, 'rs')));
    const buyers = await Promise.all([0, 1, 2].map(() => newUser(api, 'rb')));
    const arbitratorUser = await newUser(api, 'ra');
    expect(
      (await admin.patch(`/api/v1/admin/users/${arbitratorUser.id}/roles`, { roles: ['user', 'arbitrator'] })).status,
    ).toBe(200);
    const arbitrator = await login(api, arbitratorUser.email, 'correct-horse-battery');
    const deposited = 2n * 100_000_000n;
    const ads: Array<{ id: string; seller: Api }> = [];
    for (const seller of sellers) {
      await ok(seller.api, '/api/v1/wallet/deposits', { asset: 'BTC', amount: '1.00000000' });
      const ad = await ok(seller.api, '/api/v1/orders', {
        side: 'SELL',
        asset: 'BTC',
        fiatCurrency: 'USD',
        price: '30000.00',
        amount: '1.00000000',
        paymentMethods: ['SEPA'],
        paymentWindowMinutes: PAYMENT_WINDOW_MINUTES,
      });
      ads.push({ id: ad.order.id, seller: seller.api });
    }
    const trades: Array<{ id: string; buyer: Api; seller: Api }> = [];
    const disputes: Array<{ id: string; tradeId: string; openedAt: number; resolved: boolean }> = [];
    let n = 0;
    const take = async () => {
      const ad = ads[n % ads.length]!;
      const buyer = buyers[n % buyers.length]!.api;
      n++;
      const res = await ok(buyer, `/api/v1/orders/${ad.id}/take`, {
        amount: `0.0${1 + (n % 5)}000000`,
        paymentMethod: 'SEPA',
      });
      const trade = { id: res.tradeId as string, buyer, seller: ad.seller };
      trades.push(trade);
      await tradeView(buyer, trade.id);
      return trade;
    };
    const openDispute = async (trade: { id: string; buyer: Api }) => {
      await ok(trade.buyer, `/api/v1/trades/${trade.id}/paid`);
      const { disputeId } = await ok(trade.buyer, `/api/v1/trades/${trade.id}/dispute`, {
        reason: 'Paid, not released.',
      });
      await until(async () => (await trade.buyer.get(`/api/v1/disputes/${disputeId}`)).status === 200, 20_000);
      const dispute = { id: disputeId as string, tradeId: trade.id, openedAt: Date.now(), resolved: false };
      disputes.push(dispute);
      return dispute;
    };

    /**
     * One round: trades flowing, two to release while the user service is stopped (trade.completed in Redis only), a
     * dispute resolved while trade-execution is stopped (dispute.resolved in Redis only), a dispute left to its timers,
     * a trade left to its payment deadline; then Redis loses everything and the consumers come back.
     */
    const round = async (name: string, lose: () => Promise<void>) => {
      const toRelease = [await take(), await take()];
      const toResolve = await openDispute(await take());
      await openDispute(await take()); // left alone: its evidence window and assignment timeout come due
      await take(); // left unpaid: its payment deadline comes due
      for (const t of toRelease) await ok(t.buyer, `/api/v1/trades/${t.id}/paid`);
      await ok(arbitrator, `/api/v1/disputes/${toResolve.id}/assign`);

      signal('user', 'SIGSTOP');
      for (const t of toRelease) await ok(t.seller, `/api/v1/trades/${t.id}/release`);
      await handedToRedis('trade');
      signal('trade-execution', 'SIGSTOP');
      await ok(arbitrator, `/api/v1/disputes/${toResolve.id}/resolve`, {
        outcome: n % 2 ? 'REFUND_SELLER' : 'RELEASE_TO_BUYER',
        note: 'decided',
      });
      toResolve.resolved = true;
      await handedToRedis('dispute');

      await lose();
      const lostAt = Date.now();
      signal('user', 'SIGCONT');
      signal('trade-execution', 'SIGCONT');
      const resolvedTrade = await until(async () => {
        const trade = (await admin.get(`/api/v1/trades/${toResolve.tradeId}`)).body?.trade;
        return trade?.status === 'RESOLVED' ? trade : undefined;
      }, 30_000);
      const escrowMovedMs = Date.now() - lostAt;
      await until(
        async () =>
          (await count(
            `SELECT count(*) AS n FROM users.inbox WHERE event_id IN (SELECT id FROM trade.outbox WHERE type = 'trade.completed' AND payload->>'tradeId' = ANY($1))`,
            [toRelease.map((t) => t.id)],
          )) === 2,
        30_000,
      );
      recoveries.push(
        `${name}: dispute.resolved applied after ${escrowMovedMs} ms, both trade.completed after ${Date.now() - lostAt} ms (bound ${REDELIVER_MS} ms)`,
      );
      expect(ESCROW_FOR.RESOLVED).toContain(resolvedTrade.escrow.status);
    };

    await round('kill -9, restart empty', () => redis.crashAndRestartEmpty());
    await round('FLUSHALL', () => redis.flushAll());

    // Let every deadline come due and be swept: payment windows (4 s), evidence windows (8 s), assignment timeouts (6 s).
    const lastDue = Math.max(...disputes.map((d) => d.openedAt + EVIDENCE_WINDOW_S * 1000));
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, lastDue - Date.now()) + 1_000));

    // Every trade in a final or valid state, its escrow matching; every trade past its deadline expired.
    await until(async () => {
      const views = await Promise.all(trades.map((t) => t.buyer.get(`/api/v1/trades/${t.id}`)));
      return views.every((v) => v.status === 200 && v.body.trade.status !== 'AWAITING_PAYMENT');
    }, 20_000);
    const statuses: Record<string, number> = {};
    for (const t of trades) {
      const view = (await t.buyer.get(`/api/v1/trades/${t.id}`)).body.trade;
      statuses[view.status] = (statuses[view.status] ?? 0) + 1;
      expect(ESCROW_FOR[view.status]).toContain(view.escrow.status);
    }
    expect(statuses).toEqual({ COMPLETED: 4, RESOLVED: 2, DISPUTED: 2, CANCELLED: 2 });

    // Every dispute timer past due fired, once: open cases closed their evidence window and escalated.
    await until(async () => {
      const views = await Promise.all(
        disputes.filter((d) => !d.resolved).map((d) => admin.get(`/api/v1/disputes/${d.id}`)),
      );
      return views.every((v) => v.body.evidenceClosedAt && v.body.escalatedAt);
    }, 20_000);
    const escalations = await sql.query<{ dispute_id: string; reasons: string[] }>(
      `SELECT payload->>'disputeId' AS dispute_id, array_agg(payload->>'reason' ORDER BY payload->>'reason') AS reasons FROM dispute.outbox WHERE type = 'dispute.escalated' GROUP BY 1`,
    );
    expect(escalations.rows.sort((a, b) => a.dispute_id.localeCompare(b.dispute_id))).toEqual(
      disputes
        .filter((d) => !d.resolved)
        .map((d) => ({ dispute_id: d.id, reasons: ['PARTY_SILENT', 'UNASSIGNED_TOO_LONG'] }))
        .sort((a, b) => a.dispute_id.localeCompare(b.dispute_id)),
    );

    // Reputation counted each trade once, whatever Redis lost (the projection against the trades themselves).
    await until(
      async () => (await count(`SELECT count(*) AS n FROM trade.outbox WHERE confirmed_at IS NULL`)) === 0,
      20_000,
    );
    const mismatched = await sql.query(`
      WITH expected AS (
        SELECT u.id::text AS user_id,
               (SELECT count(*) FROM trade.trades t WHERE t.status = 'COMPLETED' AND u.id::text IN (t.buyer_id, t.seller_id))::int AS completed,
               (SELECT count(*) FROM trade.trades t WHERE t.status = 'CANCELLED' AND t.buyer_id = u.id::text)::int AS cancelled,
               (SELECT count(*) FROM trade.trades t WHERE t.status = 'RESOLVED' AND
                  ((t.outcome = 'REFUND_SELLER' AND t.buyer_id = u.id::text) OR (t.outcome = 'RELEASE_TO_BUYER' AND t.seller_id = u.id::text)))::int AS lost
        FROM users.users u)
      SELECT e.*, s.trades_completed, s.trades_cancelled, s.disputes_lost FROM expected e LEFT JOIN users.user_stats s ON s.user_id::text = e.user_id
      WHERE coalesce(s.trades_completed, 0) <> e.completed OR coalesce(s.trades_cancelled, 0) <> e.cancelled OR coalesce(s.disputes_lost, 0) <> e.lost`);
    expect(mismatched.rows).toEqual([]);

    // Every hold equals its order's remainder; the ledger balances and holds exactly what was deposited; every event
    // is confirmed by its consumer.
    for (const seller of sellers)
      expect((await balances(seller.api)).BTC.held).toBe(await liveSellRemainder(seller.api, 'BTC'));
    await expectLedgerBalanced(admin);
    let total = 0n;
    for (const user of [...sellers, ...buyers]) {
      const b = (await balances(user.api)).BTC;
      total += b.available + b.held + b.inEscrow;
    }
    expect(total).toBe(deposited);
    await until(
      async () => (await count(`SELECT count(*) AS n FROM dispute.outbox WHERE confirmed_at IS NULL`)) === 0,
      20_000,
    );

    // The losses were real and repaired by re-publishing, not by luck.
    expect(
      await metric(stack.ports['trade-execution'], /^events_republished_total\{type="trade.completed",consumer="user"/),
    ).toBeGreaterThanOrEqual(4);
    expect(
      await metric(
        stack.ports.dispute,
        /^events_republished_total\{type="dispute.resolved",consumer="trade-execution"/,
      ),
    ).toBeGreaterThanOrEqual(2);
    expect(await metric(stack.ports.dispute, /^timers_fired_total\{timer="evidence-window"/)).toBe(2);
    expect(await metric(stack.ports.dispute, /^timers_fired_total\{timer="assignment-timeout"/)).toBe(2);
    const health = await api.get('/health');
    expect(health.body.status).toBe('ok');
  });
});
