import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Response } from 'express';
import { eventually } from '@orrange/testing';
import { createTestRedis, startStub, type StubUpstream, type TestRedis } from './harness';

const ROOT = path.resolve(__dirname, '../../..');
const TSX_LOADER = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

interface LogLine {
  message: string;
  pid?: number;
  [key: string]: unknown;
}

async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** One GET on a connection of its own (no keep-alive to hold a stopping worker open). */
function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * The gateway as it runs for real (src/index.ts, the composition root the other suites bypass), with
 * GATEWAY_WORKERS=2: a primary and two workers behind one port.
 */
describe('gateway as a cluster', () => {
  let testRedis: TestRedis;
  let stub: StubUpstream;
  const held: Response[] = [];
  let gateway: ChildProcess | undefined;
  const lines: LogLine[] = [];

  beforeAll(async () => {
    testRedis = await createTestRedis();
    stub = await startStub('order-book', (app) => app.get('/api/v1/orderbook', (_req, res) => void held.push(res)));
  });

  afterAll(async () => {
    if (gateway && gateway.exitCode === null) gateway.kill('SIGKILL');
    for (const res of held.splice(0)) res.json({});
    await stub.close();
    await testRedis.cleanup();
  });

  it('when two workers serve, then /metrics counts both, and on SIGTERM every worker finishes its requests in flight, stops, and the primary exits 0', async () => {
    const port = await freePort();
    gateway = spawn(
      process.execPath,
      ['--import', TSX_LOADER, '--conditions=@orrange/source', path.join(ROOT, 'services/gateway/src/index.ts')],
      {
        cwd: path.join(ROOT, 'services/gateway'),
        env: {
          ...process.env,
          NODE_ENV: 'test',
          LOG_LEVEL: 'info',
          PORT: String(port),
          HOST: '127.0.0.1',
          GATEWAY_WORKERS: '2',
          REDIS_URL: testRedis.url,
          REDIS_PREFIX: testRedis.prefix,
          ORDER_BOOK_SERVICE_URLS: stub.url,
          UPSTREAM_PROBE_INTERVAL_MS: '0',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let buffered = '';
    gateway.stdout!.on('data', (chunk: Buffer) => {
      const parts = (buffered + chunk.toString()).split('\n');
      buffered = parts.pop() ?? '';
      for (const part of parts) if (part.startsWith('{')) lines.push(JSON.parse(part) as LogLine);
    });
    const exited = new Promise<number | null>((resolve) => gateway!.on('exit', (code) => resolve(code)));
    const said = (message: string) => lines.filter((line) => line.message === message);

    await eventually(async () => said('worker listening').length === 2, { timeoutMs: 25_000 });
    const workerPids = said('worker listening').map((line) => line.pid!);
    expect(workerPids).not.toContain(gateway.pid);

    const inFlight = get(`http://127.0.0.1:${port}/api/v1/orderbook?asset=BTC&fiatCurrency=USD`);
    await eventually(async () => held.length === 1);
    // Each scrape, on a connection of its own, may reach either worker: every one counts both workers' requests.
    for (let i = 0; i < 4; i++) {
      const scrape = await get(`http://127.0.0.1:${port}/metrics`);
      expect(scrape.body).toMatch(/^gateway_upstream_in_flight\{service="order-book",lane="read"\} 1$/m);
    }
    gateway.kill('SIGTERM');
    await eventually(async () => said('shutting down').length === 2); // both workers got it from the primary
    for (const res of held.splice(0)) res.json({ bids: [], asks: [] });

    expect(await inFlight).toMatchObject({ status: 200 });
    expect(await exited).toBe(0);
    expect(said('worker stopped').map((line) => line.code)).toEqual([0, 0]);
    await eventually(async () => workerPids.every((pid) => !alive(pid)));
  });
});
