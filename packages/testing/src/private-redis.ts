import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from './free-port';

const START_TIMEOUT_MS = 10_000;

/**
 * A redis-server of the test's own on a free port, without persistence (`--save '' --appendonly no`): kill9()
 * then start() gives an empty Redis, as after a crash of a Redis without persistence, the lost last second of an
 * `appendfsync everysec` one, or a failover to a replica that lagged. The machine's shared Redis is never touched.
 */
export class PrivateRedisServer {
  private child: ChildProcess | undefined;

  private constructor(readonly port: number) {}

  /** Starts a server on a free loopback port. */
  static async start(): Promise<PrivateRedisServer> {
    const server = new PrivateRedisServer(await freePort());
    await server.start();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts the server (again, after kill9: empty) and waits until it answers PING. */
  async start(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
    this.child = child;
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`redis-server on port ${this.port} exited with ${child.exitCode}`);
      if (await answersPing(this.url)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`redis-server on port ${this.port} did not start within ${START_TIMEOUT_MS} ms`);
  }

  /** SIGKILL: everything the server held is gone; clients see their connections drop. */
  async kill9(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** kill9 and start again: an empty Redis on the same port. */
  async crashAndRestartEmpty(): Promise<void> {
    await this.kill9();
    await this.start();
  }

  /** FLUSHALL: every key gone while the server and its clients' connections stay up. */
  async flushAll(): Promise<void> {
    const admin = new Redis(this.url, { maxRetriesPerRequest: 1 });
    try {
      await admin.flushall();
    } finally {
      admin.disconnect();
    }
  }

  async stop(): Promise<void> {
    await this.kill9();
  }
}

async function answersPing(url: string): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

