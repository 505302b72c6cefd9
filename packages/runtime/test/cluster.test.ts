import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { restartDelayMs, runClustered } from '../src/cluster';

const ROOT = path.resolve(__dirname, '../../..');
const TSX_LOADER = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const FIXTURE = path.join(__dirname, 'fixtures/clustered-server.ts');

interface Line {
  message: string;
  pid: number;
  [key: string]: unknown;
}

/** The fixture as a real process tree: a primary and its workers. */
interface Clustered {
  child: ChildProcess;
  lines: Line[];
  exited: Promise<number | null>;
  /** Resolves with the first `count` lines saying `message`, as soon as they have been printed. */
  waitFor(message: string, count?: number): Promise<Line[]>;
}

function startFixture(env: Record<string, string>): Clustered {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, FIXTURE], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: Line[] = [];
  const waiters: Array<() => void> = [];
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const parts = (buffered + chunk.toString()).split('\n');
    buffered = parts.pop() ?? '';
    for (const part of parts) if (part.startsWith('{')) lines.push(JSON.parse(part) as Line);
    for (const wake of waiters.splice(0)) wake();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitFor = async (message: string, count = 1): Promise<Line[]> => {
    for (;;) {
      const found = lines.filter((line) => line.message === message);
      if (found.length >= count) return found.slice(0, count);
      if (child.exitCode !== null) throw new Error(`exited before ${count}× "${message}": ${JSON.stringify(lines)}`);
      await Promise.race([new Promise<void>((resolve) => waiters.push(resolve)), exited]);
    }
  };
  return { child, lines, exited, waitFor };
}

async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function eventually(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 20));
}

const get = (port: number, path = '/') =>
  new Promise<string>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });

describe('runClustered', () => {
  let running: Clustered | undefined;

  afterEach(() => {
    // A failed test must leave no process behind: the workers exit with their primary.
    if (running && running.child.exitCode === null) running.child.kill('SIGKILL');
    running = undefined;
  });

  it('when one worker is asked for, then startWorker runs in this process and nothing is forked', async () => {
    const startWorker = jest.fn(async () => undefined);
    await runClustered(1, startWorker, { info: jest.fn(), warn: jest.fn(), error: jest.fn() });
    expect(startWorker).toHaveBeenCalledTimes(1);
  });

  it('when the worker count is not 1 to 64, then it refuses before forking', async () => {
    const logger = { info: jest.fn(), warn: jest.fn(), error: jest.fn() };
    for (const workers of [0, 1.5, 65, Number.NaN])
      await expect(runClustered(workers, async () => undefined, logger)).rejects.toThrow(/workers/);
  });

  it('when workers keep dying, then each restart waits twice as long as the one before, up to the maximum', () => {
    expect([1, 2, 3, 4].map((deaths) => restartDelayMs(deaths))).toEqual([250, 500, 1000, 2000]);
    expect(restartDelayMs(20)).toBe(30_000);
    expect(restartDelayMs(1000, { restartDelayMs: 10, restartDelayMaxMs: 5_000 })).toBe(5_000);
  });

  it('when two workers run, then both serve the port, a killed one is replaced, and SIGTERM stops them all gracefully', async () => {
    const port = await freePort();
    running = startFixture({ WORKERS: '2', PORT: String(port) });
    const listening = await running.waitFor('worker listening', 2);
    const pids = listening.map((line) => line.pid);
    expect(new Set(pids).size).toBe(2);
    expect(pids).not.toContain(running.child.pid);
    expect(pids).toContain(Number(await get(port)));
    // Whichever worker answers /metrics, it reports both.
    for (let i = 0; i < 4; i++) expect(await get(port, '/metrics')).toMatch(/^fixture_workers_started_total 2$/m);

    process.kill(pids[0]!, 'SIGKILL');
    const [died] = await running.waitFor('worker died; restarting it');
    expect(died).toMatchObject({ signal: 'SIGKILL', restartInMs: 50 });
    const replacement = (await running.waitFor('worker listening', 3))[2]!.pid;
    expect(pids).not.toContain(replacement);

    running.child.kill('SIGTERM');
    expect(await running.exited).toBe(0);
    expect(
      running.lines
        .filter((line) => line.message === 'worker stopped gracefully')
        .map((line) => line.pid)
        .sort(),
    ).toEqual([pids[1]!, replacement].sort());
    await eventually(() => !alive(pids[1]!) && !alive(replacement));
  });

  it('when the workers die while starting, then the primary exits 1 instead of forking them again', async () => {
    running = startFixture({ WORKERS: '2', PORT: String(await freePort()), FAIL_START: '1' });
    expect(await running.exited).toBe(1);
    expect(running.lines.filter((line) => line.message === 'worker died; restarting it')).toHaveLength(0);
    expect(
      running.lines.filter((line) => line.message === 'worker died while starting; the cluster does not start').length,
    ).toBeGreaterThanOrEqual(1);
  });

  it('when the primary is killed, then its workers exit too', async () => {
    running = startFixture({ WORKERS: '2', PORT: String(await freePort()) });
    const pids = (await running.waitFor('worker listening', 2)).map((line) => line.pid);
    running.child.kill('SIGKILL');
    await running.exited;
    await eventually(() => pids.every((pid) => !alive(pid)));
  });
});
