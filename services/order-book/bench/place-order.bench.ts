import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import request from 'supertest';
import { placeSellHoldsCall } from '@orrange/queue';
import { createApp } from '../src/app';
import { createHarness, type Harness } from '../test/harness';
import { actors } from '../test/helpers';

/**
 * Measurements, not assertions (run: pnpm --filter @orrange/order-book run bench; BENCH_SLOW_MS=0 with
 * TEST_LOG_LEVEL=warn logs every statement's time, BENCH_TABLE_STATS=1 prints the tables' scans). Counts the SQL round trips
 * of the place-order paths, then drives one service instance with fixed-rate (open-loop) order placement
 * plus book reads and prints throughput and latency percentiles. No gateway in front.
 */
const RATE_PER_S = Number(process.env.BENCH_RATE ?? 1000);
const DURATION_S = Number(process.env.BENCH_SECONDS ?? 5);
const BOOK_READS_PER_S = 200;
/** Markets the orders spread over (USD first): matching is serialized per market, so one market is the worst case. */
/** Send every order with an Idempotency-Key, as API.md asks clients to (BENCH_KEYS=0 to leave them out). */
const WITH_KEYS = process.env.BENCH_KEYS !== '0';
const MARKETS = ['USD', 'EUR', 'GBP', 'NGN', 'INR', 'BRL', 'KES', 'CAD'].slice(
  0,
  Number(process.env.BENCH_MARKETS ?? 1),
);

/**
 * CPU milliseconds the Postgres backends of the bench database have used so far (from /proc, so what other
 * databases on the machine do is not counted; the WAL writer's and checkpointer's share is left out).
 */
async function postgresCpuMs(harness: Harness): Promise<{ user: number; system: number }> {
  const rows = await harness.runtime.db.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database()',
  );
  const msPerTick = 10;
  const total = { user: 0, system: 0 };
  for (const { pid } of rows) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      total.user += Number(fields[11]) * msPerTick;
      total.system += Number(fields[12]) * msPerTick;
    } catch {
      // the backend ended meanwhile
    }
  }
  return total;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function summary(name: string, latencies: number[], errors: number, seconds: number): string {
  const s = [...latencies].sort((a, b) => a - b);
  return `${name}: ${latencies.length} ok, ${errors} errors, ${(latencies.length / seconds).toFixed(0)}/s, p50 ${percentile(s, 50).toFixed(1)} ms, p99 ${percentile(s, 99).toFixed(1)} ms, max ${s[s.length - 1]?.toFixed(1)} ms`;
}

describe('order-book bench', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await createHarness({ DB_POOL_MAX: '16', DB_SLOW_QUERY_MS: process.env.BENCH_SLOW_MS ?? '200' });
  });

  afterAll(() => harness.close());

  it('counts round trips of the place-order paths', async () => {
    const app = createApp(harness);
    const t = actors(harness.runtime, app);
    await t.placeFundedSell('rt-maker', { fiatCurrency: 'GBP', price: '100.00', amount: '5' });
    // Deposits go before the counting starts: a SELL is placed only if its seller's balance covers it.
    await t.fund('rt-c', 'BTC', '1');
    const original = pg.Client.prototype.query;
    let count = 0;
    const counting = function (this: pg.Client, ...args: unknown[]) {
      count += 1;
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
    (pg.Client.prototype as { query: unknown }).query = counting;
    const measure = async (label: string, run: () => Promise<unknown>) => {
      count = 0;
      await run();
      console.log(`${label}: ${count} SQL round trips`);
    };
    try {
      await measure('BUY, rests (no cross)', () => t.place('rt-a', { fiatCurrency: 'GBP', price: '90.00' }));
      await measure('BUY, 1 fill', () => t.place('rt-b', { fiatCurrency: 'GBP', price: '100.00', amount: '1' }));
      await measure('SELL, funded, rests (its hold placed in the same transaction)', () =>
        t.place('rt-c', { side: 'SELL', fiatCurrency: 'GBP', price: '120.00' }),
      );
      await measure('SELL, unfunded (409)', () =>
        t.place('rt-e', { side: 'SELL', fiatCurrency: 'GBP', price: '120.00' }),
      );
      await measure('BUY with Idempotency-Key', () =>
        request(app)
          .post('/api/v1/orders')
          .set(t.as('rt-d'))
          .set('Idempotency-Key', 'bench-1')
          .send({
            side: 'BUY',
            asset: 'BTC',
            fiatCurrency: 'GBP',
            price: '80.00',
            amount: '1',
            paymentMethods: ['SEPA'],
          }),
      );
    } finally {
      (pg.Client.prototype as { query: unknown }).query = original;
    }
  });

  it(`places ${RATE_PER_S}/s for ${DURATION_S} s with ${BOOK_READS_PER_S} book reads/s`, async () => {
    const app = createApp(harness);
    const t = actors(harness.runtime, app);
    // A resting book of asks to cross: 500 funded SELL orders 100.00–104.99 in each of 8 markets.
    await harness.runtime.db.query(
      `INSERT INTO orders (id, user_id, side, asset, fiat_currency, price, amount, remaining, min_fill, payment_methods, payment_window_minutes, status, live)
       SELECT gen_random_uuid(), 'seed-' || (i % 50), 'SELL', 'BTC', (ARRAY['USD', 'EUR', 'GBP', 'NGN', 'INR', 'BRL', 'KES', 'CAD'])[1 + i % 8], 100 + (i % 500) / 100.0, 1, 1, 0.00000001, ARRAY['SEPA'], 30, 'OPEN', true FROM generate_series(1, 4000) i`,
    );
    // Each ask holds its amount, as one placed through the API would (80 asks of 1 BTC per seeded seller).
    for (let i = 0; i < 50; i += 1) await t.fund(`seed-${i}`, 'BTC', '80');
    const asks = await harness.runtime.db.query<{ id: string; user_id: string }>(
      "SELECT id, user_id FROM orders WHERE user_id LIKE 'seed-%'",
    );
    const holds = placeSellHoldsCall(
      asks.map((a) => ({ orderId: a.id, userId: a.user_id, asset: 'BTC', amount: '1' })),
    );
    await harness.runtime.db.query(holds.sql, holds.params);
    if (process.env.BENCH_NO_REFRESH) harness.deps.bookChanged = () => undefined;
    const server = http.createServer(app).listen(0);
    const port = (server.address() as AddressInfo).port;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
    // Reads get their own connections, so that they never queue behind slow writes in the client.
    const readAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    const call = (method: string, path: string, body?: object, headers: Record<string, string> = {}) =>
      new Promise<number>((resolve) => {
        const payload = body ? JSON.stringify(body) : undefined;
        const startedAt = performance.now();
        const req = http.request(
          {
            port,
            path,
            method,
            agent: method === 'GET' ? readAgent : agent,
            headers: {
              'content-type': 'application/json',
              ...headers,
              ...(payload ? { 'content-length': Buffer.byteLength(payload) } : {}),
            },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode && res.statusCode < 300 ? performance.now() - startedAt : -1));
          },
        );
        req.on('error', () => resolve(-1));
        req.end(payload);
      });
    const identities = Array.from({ length: 100 }, (_, i) => t.as(`bench-${i}`) as Record<string, string>);
    const placeLatencies: number[] = [];
    const readLatencies: number[] = [];
    let placeErrors = 0;
    let readErrors = 0;
    const pending: Promise<void>[] = [];
    const pgBefore = await postgresCpuMs(harness);
    const cpuBefore = process.cpuUsage();
    const startedAt = performance.now();
    const total = RATE_PER_S * DURATION_S;
    const readEvery = Math.max(1, Math.round(RATE_PER_S / BOOK_READS_PER_S));
    for (let i = 0; i < total; i += 1) {
      const due = startedAt + (i * 1000) / RATE_PER_S;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      const price = (95 + ((i * 7919) % 1000) / 100).toFixed(2);
      pending.push(
        call(
          'POST',
          '/api/v1/orders',
          {
            side: 'BUY',
            asset: 'BTC',
            fiatCurrency: MARKETS[i % MARKETS.length],
            price,
            amount: '0.01',
            paymentMethods: ['SEPA'],
          },
          { ...identities[i % 100], ...(WITH_KEYS ? { 'idempotency-key': `bench-${i}` } : {}) },
        ).then((ms) => {
          if (ms < 0) placeErrors += 1;
          else placeLatencies.push(ms);
        }),
      );
      if (i % readEvery === 0) {
        pending.push(
          call('GET', '/api/v1/orderbook?asset=BTC&fiatCurrency=USD&depth=20').then((ms) => {
            if (ms < 0) readErrors += 1;
            else readLatencies.push(ms);
          }),
        );
      }
    }
    await Promise.all(pending);
    const seconds = (performance.now() - startedAt) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const pgAfter = await postgresCpuMs(harness);
    const perOrder = (ms: number) => (ms / placeLatencies.length).toFixed(2);
    console.log(
      `Postgres CPU (this database's backends): ${perOrder(pgAfter.user - pgBefore.user)} ms user + ${perOrder(pgAfter.system - pgBefore.system)} ms system per order placed`,
    );
    console.log(
      `node CPU (client and server in this one process): ${((cpu.user + cpu.system) / 1000 / (placeLatencies.length + readLatencies.length)).toFixed(2)} ms per request, ${((cpu.user + cpu.system) / 1e4 / seconds).toFixed(0)}% of a core`,
    );
    console.log(
      `${summary('place BUY', placeLatencies, placeErrors, seconds)}\n${summary('GET /orderbook', readLatencies, readErrors, seconds)}\nrss ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`,
    );
    if (process.env.BENCH_TABLE_STATS) {
      await harness.runtime.db.query('SELECT pg_stat_force_next_flush()');
      console.table(
        await harness.runtime.db.query(
          "SELECT schemaname || '.' || relname AS t, seq_scan, seq_tup_read, idx_scan, n_tup_ins, n_tup_upd FROM pg_stat_user_tables WHERE seq_tup_read > 0 OR idx_scan > 0 ORDER BY seq_tup_read DESC LIMIT 15",
        ),
      );
    }
    const [fills] = await harness.runtime.db.query<{ n: number }>('SELECT count(*)::int AS n FROM matches');
    console.log(`fills made: ${fills?.n}`);
    agent.destroy();
    readAgent.destroy();
    await new Promise((resolve) => server.close(resolve));
  }, 120_000);
});
