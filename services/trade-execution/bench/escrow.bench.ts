/**
 * Not part of `pnpm test`: measures match → trade with escrow locked (one consumer transaction per event) and a
 * seller's release over HTTP, on a fresh database. Run:
 *   npx jest --rootDir . --testMatch '<rootDir>/bench/*.bench.ts' --testTimeout 300000
 */
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { fund, matchEvent, verify } from '../test/factories';
import { createHarness, type Harness } from '../test/harness';

const TRADES = 2000;
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
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      const startedAt = performance.now();
      await work(item);
      samples.push(performance.now() - startedAt);
    }
  }));
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
    const events = Array.from({ length: TRADES }, (_, i) => matchEvent({ sellerId: sellers[i % sellers.length]!, buyerId: `bench-buyer-${i % 200}`, tradeId: randomUUID(), amount: '0.01' }));
    let startedAt = performance.now();
    const matchSamples = await inParallel(events, CONCURRENCY, async (e) => {
      await h.deliver('order.matched', e);
    });
    console.log(summary(`order.matched applied (concurrency ${CONCURRENCY})`, matchSamples, performance.now() - startedAt));
    startedAt = performance.now();
    const releaseSamples = await inParallel(events, CONCURRENCY, async (e) => {
      const res = await request(h.app).post(`/api/v1/trades/${e.tradeId}/release`).set(h.as(e.sellerId)).send({});
      if (res.status !== 200) throw new Error(`release ${res.status}`);
    });
    console.log(summary(`POST release over HTTP (concurrency ${CONCURRENCY})`, releaseSamples, performance.now() - startedAt));
    startedAt = performance.now();
    const report = await verify(h);
    console.log(`ledger verify over ${TRADES * 2 + 50} journals: ${Math.round(performance.now() - startedAt)}ms ok=${report.ok}`);
    expect(report.ok).toBe(true);
  });
});
