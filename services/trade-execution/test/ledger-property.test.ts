import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import request from 'supertest';
import { ASSET_SCALES, fromUnits, type Asset } from '@orrange/money';
import type { HoldRelease } from '@orrange/queue';
import {
  ADMIN,
  expireDeadline,
  openTrades,
  placeSellHolds,
  releaseSellHold,
  sellHold,
  sqlStateOf,
  tradeOpening,
  verify,
} from './factories';
import { createHarness, type Harness } from './harness';

const USERS = 4;
const ASSETS_USED: Asset[] = ['BTC', 'USDT'];
const OPS_MAX = 40;
const RUNS = 30;
const STARTING_UNITS = 6_000_000n;

const user = fc.integer({ min: 0, max: USERS - 1 });
const asset = fc.constantFrom(...ASSETS_USED);
const units = fc.bigInt({ min: 1n, max: 3_000_000n });
const pick = fc.nat({ max: 1000 });

const weighted = <T>(weight: number, arbitrary: fc.Arbitrary<T>) => ({ weight, arbitrary });
const op = fc.oneof(
  weighted(1, fc.record({ kind: fc.constant('deposit' as const), user, asset, units })),
  weighted(1, fc.record({ kind: fc.constant('withdraw' as const), user, asset, units })),
  weighted(3, fc.record({ kind: fc.constant('sell' as const), user, asset, units })),
  // Mostly the order's remainder, as order-book sends it; otherwise a random amount, which must fail unless it is the remainder.
  weighted(2, fc.record({ kind: fc.constant('cancelOrder' as const), order: pick, units, exact: fc.boolean() })),
  weighted(
    4,
    fc.record({
      kind: fc.constant('matchHold' as const),
      order: pick,
      buyer: user,
      units: fc.bigInt({ min: 1n, max: 1_500_000n }),
    }),
  ),
  weighted(3, fc.record({ kind: fc.constant('matchAvailable' as const), seller: user, buyer: user, asset, units })),
  weighted(3, fc.record({ kind: fc.constant('paid' as const), trade: pick })),
  weighted(3, fc.record({ kind: fc.constant('release' as const), trade: pick })),
  weighted(2, fc.record({ kind: fc.constant('cancelTrade' as const), trade: pick })),
  weighted(2, fc.record({ kind: fc.constant('timeout' as const), trade: pick })),
  weighted(4, fc.record({ kind: fc.constant('dispute' as const), trade: pick, bySeller: fc.boolean() })),
  weighted(
    5,
    fc.record({
      kind: fc.constant('resolve' as const),
      trade: pick,
      outcome: fc.constantFrom('RELEASE_TO_BUYER' as const, 'REFUND_SELLER' as const, 'SPLIT' as const),
      share: fc.integer({ min: 0, max: 100 }),
    }),
  ),
  weighted(1, fc.record({ kind: fc.constant('repeat' as const) })),
);

describe('ledger property: random operation sequences keep the books balanced', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness({ TRADE_FEE_BPS: '25' });
  });

  afterAll(() => h.close());

  it('when deposits, holds, trade openings, payments, cancellations, timeouts and resolutions happen in any order, then every asset sums to zero and no user account is negative', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 10, maxLength: OPS_MAX }), async (ops) => {
        run += 1;
        const users = Array.from({ length: USERS }, (_, i) => `p${run}-u${i}`);
        const orders: Array<{ id: string; userId: string; asset: Asset }> = [];
        const trades: Array<{ id: string; buyerId: string; sellerId: string }> = [];
        // The last hold, opening or release, to send again: the same call answers DUPLICATE (or fails again) and changes nothing.
        let repeat: (() => Promise<unknown>) | undefined;
        const amount = (a: Asset, u: bigint) => fromUnits(u, ASSET_SCALES[a]);
        /** A decimal as a number of its smallest digits at 8 places, to compare amounts written at different scales. */
        const unitsOf = (d: string) =>
          BigInt(d.includes('.') ? `${d.split('.')[0]}${d.split('.')[1]!.padEnd(8, '0')}` : `${d}00000000`);
        // Every user starts with some of each asset (about two random movements' worth), so most operations can happen.
        for (const u of users)
          for (const a of ASSETS_USED)
            await request(h.app)
              .post('/api/v1/wallet/deposits')
              .set(h.as(u))
              .send({ asset: a, amount: amount(a, STARTING_UNITS) });
        const once = async (work: () => Promise<unknown>) => {
          repeat = work;
          await work();
        };
        // A release answers what the hold's state says: no hold P0002, released before DUPLICATE, exactly its remainder
        // OK, anything else 23514 (and nothing moves). The remainder is the order's amount less what its trades took.
        const remainderOf = async (orderId: string) =>
          (
            await h.runtime.db.query<{ status: string; remaining: string }>(
              `SELECT h.status, round(h.amount - coalesce((SELECT sum(t.amount) FROM trades t WHERE t.sell_order_id = h.order_id), 0), asset_scale(h.asset))::text AS remaining
             FROM order_holds h WHERE h.order_id = $1`,
              [orderId],
            )
          )[0];
        const release = async (r: HoldRelease) => {
          const hold = await remainderOf(r.orderId);
          const expected = !hold
            ? 'P0002'
            : hold.status !== 'PLACED'
              ? 'DUPLICATE'
              : unitsOf(r.remaining) === unitsOf(hold.remaining)
                ? 'OK'
                : '23514';
          const answer =
            expected === 'OK' || expected === 'DUPLICATE'
              ? await releaseSellHold(h, r)
              : await sqlStateOf(releaseSellHold(h, r));
          expect({ release: r, answer }).toEqual({ release: r, answer: expected });
        };
        const serverErrors: string[] = [];
        const act = async (tradeIndex: number, who: 'buyer' | 'seller', action: string, body: object = {}) => {
          const t = trades[tradeIndex % trades.length]!;
          const res = await request(h.app)
            .post(`/api/v1/trades/${t.id}/${action}`)
            .set(h.as(who === 'buyer' ? t.buyerId : t.sellerId))
            .send(body);
          if (res.status >= 500) serverErrors.push(`${action}: ${res.status}`);
          return res;
        };

        for (const o of ops) {
          switch (o.kind) {
            case 'deposit':
              await request(h.app)
                .post('/api/v1/wallet/deposits')
                .set(h.as(users[o.user]!))
                .send({ asset: o.asset, amount: amount(o.asset, o.units) });
              break;
            case 'withdraw':
              await request(h.app)
                .post('/api/v1/wallet/withdrawals')
                .set(h.as(users[o.user]!))
                .send({ asset: o.asset, amount: amount(o.asset, o.units), address: 'addr' });
              break;
            case 'sell': {
              const order = { id: randomUUID(), userId: users[o.user]!, asset: o.asset };
              orders.push(order);
              await once(() =>
                placeSellHolds(h, [sellHold(order.userId, order.asset, amount(order.asset, o.units), order.id)]),
              );
              break;
            }
            case 'cancelOrder': {
              if (orders.length === 0) break;
              const order = orders[o.order % orders.length]!;
              const remaining = o.exact
                ? ((await remainderOf(order.id))?.remaining ?? amount(order.asset, o.units))
                : amount(order.asset, o.units);
              await once(() => release({ orderId: order.id, userId: order.userId, asset: order.asset, remaining }));
              break;
            }
            case 'matchHold':
            case 'matchAvailable': {
              const fromHold = o.kind === 'matchHold';
              if (fromHold && orders.length === 0) break;
              const order = fromHold ? orders[o.order % orders.length]! : undefined;
              const sellerId = order?.userId ?? users[(o as { seller: number }).seller]!;
              const buyerId = users[o.buyer]!;
              if (sellerId === buyerId) break;
              const a = order?.asset ?? (o as { asset: Asset }).asset;
              const tradeId = randomUUID();
              trades.push({ id: tradeId, buyerId, sellerId });
              const opening = tradeOpening({
                tradeId,
                buyOrderId: null,
                sellOrderId: order?.id ?? null,
                buyerId,
                sellerId,
                asset: a,
                price: '123.45',
                amount: amount(a, o.units),
                paymentWindowMinutes: 30,
                sellerFunding: fromHold ? 'HOLD' : 'AVAILABLE',
              });
              await once(() => openTrades(h, [opening]));
              break;
            }
            case 'paid':
              if (trades.length) await act(o.trade, 'buyer', 'paid');
              break;
            case 'release':
              if (trades.length) await act(o.trade, 'seller', 'release');
              break;
            case 'cancelTrade':
              if (trades.length) await act(o.trade, 'buyer', 'cancel');
              break;
            case 'timeout': {
              if (!trades.length) break;
              const t = trades[o.trade % trades.length]!;
              await expireDeadline(h, t.id);
              await h.deadlines.sweepNow();
              break;
            }
            case 'dispute':
              // Usually the buyer has paid first (a dispute needs PAID, or AWAITING_PAYMENT after the deadline).
              if (!trades.length) break;
              if (!o.bySeller) await act(o.trade, 'buyer', 'paid');
              await act(o.trade, o.bySeller ? 'seller' : 'buyer', 'dispute', { reason: 'property' });
              break;
            case 'resolve': {
              const disputed = await h.runtime.db.query<{
                id: string;
                dispute_id: string;
                amount: string;
                asset: Asset;
              }>(
                'SELECT id, dispute_id, amount, asset FROM trades WHERE id = ANY($1::text[]) AND dispute_id IS NOT NULL ORDER BY id',
                [trades.map((x) => x.id)],
              );
              if (!disputed.length) break;
              const row = disputed[o.trade % disputed.length]!;
              const t = { id: row.id };
              const scale = ASSET_SCALES[row.asset];
              const total = BigInt(row.amount.replace('.', '').replace(/^0+(?=\d)/, '')) / 10n ** BigInt(8 - scale);
              const buyerAmount = o.outcome === 'SPLIT' ? fromUnits((total * BigInt(o.share)) / 100n, scale) : null;
              await h.deliver('dispute.resolved', {
                disputeId: row.dispute_id,
                tradeId: t.id,
                outcome: o.outcome,
                buyerAmount,
                resolvedBy: ADMIN,
              });
              break;
            }
            case 'repeat':
              await repeat?.();
              break;
          }
        }

        if (process.env.PROPERTY_STATS) {
          const counts = await h.runtime.db.query(
            'SELECT status, count(*)::int AS n FROM trades WHERE id = ANY($1::text[]) GROUP BY status',
            [trades.map((t) => t.id)],
          );
          console.log(JSON.stringify({ ops: ops.length, orders: orders.length, counts }));
        }
        expect(serverErrors).toEqual([]);
        const report = await verify(h);
        expect(report).toMatchObject({ ok: true });
        // Every open trade's escrow holds exactly its amount; every settled one holds nothing (compared as
        // NUMERIC, exactly; the rows that differ are listed).
        const wrongEscrows = await h.testDb.query(
          `SELECT t.id, t.status, t.amount::text AS amount, coalesce(a.balance, 0)::text AS escrow FROM trades t
           LEFT JOIN accounts a ON a.kind = 'ESCROW' AND a.ref_id = t.id
           WHERE t.id = ANY($1::text[])
             AND coalesce(a.balance, 0) <> CASE WHEN t.status IN ('AWAITING_PAYMENT', 'PAID', 'DISPUTED') THEN t.amount ELSE 0 END`,
          [trades.map((t) => t.id)],
        );
        expect(wrongEscrows).toEqual([]);
        // No hold is ever more than its order's amount, and a released one holds nothing (the rows that differ are listed).
        const wrongHolds = await h.testDb.query(
          `SELECT h.order_id, h.status, h.amount::text, coalesce(a.balance, 0)::text AS held FROM order_holds h
           LEFT JOIN accounts a ON a.kind = 'HELD' AND a.owner_id = h.user_id AND a.ref_id = h.order_id AND a.asset = h.asset
           WHERE h.order_id = ANY($1::text[]) AND (coalesce(a.balance, 0) > h.amount OR (h.status = 'RELEASED' AND coalesce(a.balance, 0) <> 0))`,
          [orders.map((o) => o.id)],
        );
        expect(wrongHolds).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  });
});
