import pg from 'pg';
import { Api, login, newUser, postUntilAnswered, until } from '../src/client';
import { balances, expectLedgerBalanced, liveSellRemainder } from '../src/invariants';
import { PrivateRedis } from '../src/redis-server';
import { ADMIN, freePort, startStack, type Stack } from '../src/stack';

/** A small seeded PRNG (mulberry32): the same seed replays the same run. */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = Number(process.env.FAULT_SEED ?? 20261126);
const ESCROW_FOR: Record<string, string> = {
  AWAITING_PAYMENT: 'LOCKED',
  PAID: 'LOCKED',
  DISPUTED: 'LOCKED',
  COMPLETED: 'RELEASED',
  CANCELLED: 'REFUNDED',
};

/**
 * Faults, seeded and repeatable: while clients trade, a service is killed with SIGKILL and restarted,
 * Redis restarts, Postgres drops every connection, and every service runs as two replicas.
 * Clients retry with the same Idempotency-Key, as real clients do. Afterwards every trade is in a
 * valid state, the ledger balances, every SELL hold equals its order's remainder, and the users' total
 * equals what was deposited: nothing was lost or applied twice.
 */
describe('end to end: faults', () => {
  let stack: Stack;
  let redis: PrivateRedis;
  let api: Api;
  let admin: Api;
  const random = prng(SEED);
  const faults: string[] = [];

  beforeAll(async () => {
    redis = new PrivateRedis(await freePort());
    await redis.start();
    // Jobs of a killed worker come back after 3 s instead of 30 (the production default).
    stack = await startStack({
      env: { REDIS_URL: redis.url, QUEUE_STALL_MS: '3000' },
      replicas: { user: 1, 'order-book': 1, 'trade-execution': 1, dispute: 1 },
    });
    api = new Api(stack.gatewayUrl);
    admin = await login(api, ADMIN.email, ADMIN.password);
  });

  afterAll(async () => {
    console.log(`seed ${SEED}; faults injected: ${faults.join(', ')}`);
    await stack?.stop();
    await redis?.destroy();
  });

  const post = (user: Api, path: string, body: unknown = {}) => postUntilAnswered(user, path, body);

  async function terminatePostgresConnections() {
    const client = new pg.Client({ connectionString: stack.testDb.url });
    await client.connect();
    await client.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
    );
    await client.end();
  }

  it('when services crash, Redis restarts and Postgres drops connections mid-flow, then nothing is lost or applied twice', async () => {
    const sellers = await Promise.all([0, 1, 2].map(() => newUser(api, 'fs')));
    const buyers = await Promise.all([0, 1, 2].map(() => newUser(api, 'fb')));
    const deposited = 3n * 100_000_000n;
    for (const seller of sellers)
      expect((await post(seller.api, '/api/v1/wallet/deposits', { asset: 'BTC', amount: '1.00000000' })).status).toBe(
        201,
      );
    const ads: string[] = [];
    for (const seller of sellers) {
      const res = await post(seller.api, '/api/v1/orders', {
        side: 'SELL',
        asset: 'BTC',
        fiatCurrency: 'USD',
        price: '30000.00',
        amount: '0.90000000',
        paymentMethods: ['SEPA'],
      });
      expect(res.status).toBe(201);
      ads.push(res.body.order.id);
    }
    for (const [i, id] of ads.entries())
      await until(
        async () => (await sellers[i]!.api.get(`/api/v1/orders/${id}`)).body.order?.status === 'OPEN',
        30_000,
      );

    const trades: Array<{ id: string; buyer: Api }> = [];
    const answers: Record<string, number> = {};
    const count = (status: number) => (answers[status] = (answers[status] ?? 0) + 1);
    const injections: Array<[string, () => Promise<void>]> = [
      [
        'kill -9 trade-execution, restart',
        async () => {
          await stack.kill9('trade-execution');
          await stack.restart('trade-execution');
        },
      ],
      ['terminate Postgres connections', terminatePostgresConnections],
      ['restart Redis', () => redis.restart()],
      [
        'kill -9 order-book#2, restart',
        async () => {
          await stack.kill9('order-book#2');
          await stack.restart('order-book#2');
        },
      ],
      ['terminate Postgres connections', terminatePostgresConnections],
      ['kill -9 trade-execution#2 (no restart)', () => stack.kill9('trade-execution#2')],
    ];

    // Three clients trade concurrently while the faults are injected one after another.
    const client = async (i: number) => {
      const buyer = buyers[i]!.api;
      for (let step = 0; step < 25; step++) {
        const roll = random();
        const mine = trades.filter((t) => t.buyer === buyer);
        if (roll < 0.4 || mine.length === 0) {
          const amount = `0.0${1 + Math.floor(random() * 5)}000000`;
          const res = await post(buyer, `/api/v1/orders/${ads[Math.floor(random() * 3)]}/take`, {
            amount,
            paymentMethod: 'SEPA',
          });
          count(res.status);
          if (res.status === 201) trades.push({ id: res.body.tradeId, buyer });
          continue;
        }
        const trade = mine[Math.floor(random() * mine.length)]!;
        const view = await buyer.get(`/api/v1/trades/${trade.id}`);
        if (view.status !== 200) continue;
        const seller = sellers.find((s) => s.id === view.body.trade.sellerId)!.api;
        const action = roll < 0.65 ? 'paid' : roll < 0.85 ? 'release' : 'cancel';
        count((await post(action === 'release' ? seller : buyer, `/api/v1/trades/${trade.id}/${action}`)).status);
      }
    };
    // Meanwhile crossing orders go through the one-transaction path (hold, match, trade and escrow in one commit)
    // and some SELLs are cancelled (their holds released in the same transaction), all under the same faults.
    const crosser = async () => {
      const resting: Array<{ id: string; seller: Api }> = [];
      for (let step = 0; step < 15; step++) {
        const i = Math.floor(random() * 3);
        const seller = sellers[i]!.api;
        if (random() < 0.3 && resting.length > 0) {
          const order = resting.splice(Math.floor(random() * resting.length), 1)[0]!;
          const res = await order.seller.delete(`/api/v1/orders/${order.id}`).catch(() => ({ status: 599 }));
          count(res.status);
          continue;
        }
        const sell = await post(seller, '/api/v1/orders', {
          side: 'SELL',
          asset: 'BTC',
          fiatCurrency: 'USD',
          price: '29000.00',
          amount: '0.00500000',
          paymentMethods: ['SEPA'],
        });
        count(sell.status);
        if (sell.status !== 201) continue;
        const buyer = buyers[Math.floor(random() * 3)]!.api;
        const buy = await post(buyer, '/api/v1/orders', {
          side: 'BUY',
          asset: 'BTC',
          fiatCurrency: 'USD',
          price: '29000.00',
          amount: '0.00300000',
          paymentMethods: ['SEPA'],
        });
        count(buy.status);
        if (buy.status === 201) for (const fill of buy.body.fills) trades.push({ id: fill.tradeId, buyer });
        resting.push({ id: sell.body.order.id, seller });
      }
    };
    const injector = async () => {
      for (const [name, inject] of injections) {
        await new Promise((resolve) => setTimeout(resolve, 300 + Math.floor(random() * 300)));
        faults.push(name);
        await inject();
      }
    };
    await Promise.all([client(0), client(1), client(2), crosser(), injector()]);
    console.log(`trades: ${trades.length}; answers by status: ${JSON.stringify(answers)}`);
    expect(trades.length).toBeGreaterThan(5);

    // Let the system settle: every take became a trade (or was rejected), every hold is in place.
    await until(async () => {
      const views = await Promise.all(trades.map((t) => t.buyer.get(`/api/v1/trades/${t.id}`)));
      return views.every((v) => v.status === 200);
    }, 60_000);

    for (const trade of trades) {
      const { trade: view } = (await trade.buyer.get(`/api/v1/trades/${trade.id}`)).body;
      expect(Object.keys(ESCROW_FOR)).toContain(view.status);
      expect(view.escrow.status).toBe(ESCROW_FOR[view.status]);
    }
    await until(async () => {
      for (const seller of sellers)
        if ((await balances(seller.api)).BTC.held !== (await liveSellRemainder(seller.api, 'BTC'))) return false;
      return true;
    }, 30_000);
    await expectLedgerBalanced(admin);
    let total = 0n;
    for (const user of [...sellers, ...buyers]) {
      const b = (await balances(user.api)).BTC;
      total += b.available + b.held + b.inEscrow;
    }
    expect(total).toBe(deposited);
    expect(faults).toHaveLength(injections.length);
  });
});
