/**
 * Not part of `pnpm test`: measures match → trade with escrow locked (open_trades in a transaction of its own, as
 * order-book calls it in the transaction of a match: one match per call, then calls of a batch of matches as one
 * order filling several) and a seller's release over HTTP, on a fresh database. Run:
 *   npx jest --rootDir . --testMatch '<rootDir>/bench/*.bench.ts' --testTimeout 300000
 */
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { TradeOpening } from '@orrange/queue';
import { fund, openTrades, tradeOpening, verify } from '../test/factories';
import { createHarness, type Harness } from '../test/harness';

const TRADES = 2000;
/** Matches per open_trades call in the second round (an order that fills against several at once). */
const MATCHES_PER_CALL = 8;
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);

function percentile(sorted: number[], p: number): number {
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]! * 100) / 100;
}

function summary(name: string, samples: number[], wallMs: number) {
  const sorted = [...samples].sort((a, b) => a - b);
  return `${name}: n=${samples.length} p50=${percentile(sorted, 0.5)}ms p99=${percentile(sorted, 0.99)}ms max=${percentile(sorted, 1)}ms throughput=${Math.round((samples.length / wallMs) * 1000)}/s`;
}

async function inParallel<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<number[]> {
  const samples: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const item = items[next++]!;
        const startedAt = performance.now();
        await work(item);
        samples.push(performance.now() - startedAt);
      }
    }),
  );
  return samples;
}

describe('bench', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness();
  });
  afterAll(() => h.close());

  it('match → escrow → trade, then release', async () => {
    const sellers = Array.from({ length: 50 }, (_, i) => `bench-seller-${i}`);
    for (const s of sellers) await fund(h, s, 'BTC', '100');
    const opening = (i: number) =>
      tradeOpening({
        sellerId: sellers[i % sellers.length]!,
        buyerId: `bench-buyer-${i % 200}`,
        tradeId: randomUUID(),
        amount: '0.01',
      });
    const open = async (openings: TradeOpening[]) => {
      const outcomes = await h.runtime.db.transaction((tx) => openTrades(h, openings, tx));
      if (outcomes.some((o) => o !== 'OK')) throw new Error(`open_trades answered ${outcomes.join()}`);
    };

    const single = Array.from({ length: TRADES }, (_, i) => opening(i));
    let startedAt = performance.now();
    const singleSamples = await inParallel(single, CONCURRENCY, (o) => open([o]));
    console.log(
      summary(
        `open_trades, 1 match per call (concurrency ${CONCURRENCY})`,
        singleSamples,
        performance.now() - startedAt,
      ),
    );

    const batches = Array.from({ length: TRADES / MATCHES_PER_CALL }, (_, b) =>
      Array.from({ length: MATCHES_PER_CALL }, (_, j) => opening(b * MATCHES_PER_CALL + j)),
    );
    startedAt = performance.now();
    const batchSamples = await inParallel(batches, CONCURRENCY, open);
    console.log(
      summary(
        `open_trades, ${MATCHES_PER_CALL} matches per call (concurrency ${CONCURRENCY})`,
        batchSamples,
        performance.now() - startedAt,
      ),
    );

    startedAt = performance.now();
    const releaseSamples = await inParallel(single, CONCURRENCY, async (o) => {
      const res = await request(h.app).post(`/api/v1/trades/${o.tradeId}/release`).set(h.as(o.sellerId)).send({});
      if (res.status !== 200) throw new Error(`release ${res.status}`);
    });
    console.log(
      summary(`POST release over HTTP (concurrency ${CONCURRENCY})`, releaseSamples, performance.now() - startedAt),
    );
    startedAt = performance.now();
    const report = await verify(h);
    console.log(
      `ledger verify over ${TRADES * 3 + 50} journals: ${Math.round(performance.now() - startedAt)}ms ok=${report.ok}`,
    );
    expect(report.ok).toBe(true);
  });
});
