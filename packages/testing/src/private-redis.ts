import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { redisTlsOptions } from '@orrange/config';
import { freePort } from './free-port';
import type { TestCertificates } from './test-certificates';

const START_TIMEOUT_MS = 10_000;

export interface PrivateRedisOptions {
  /** `requirepass`: clients must AUTH with it (the URL carries it). */
  password?: string;
  /** Serve TLS only (no plaintext port) with this server certificate; the URL is then `rediss://localhost:…`. */
  tls?: Pick<TestCertificates, 'caFile' | 'certFile' | 'keyFile'>;
}

/**
 * A redis-server of the test's own on a free port, without persistence (`--save '' --appendonly no`): kill9()
 * then start() gives an empty Redis, as after a crash of a Redis without persistence, the lost last second of an
 * `appendfsync everysec` one, or a failover to a replica that lagged. The machine's shared Redis is never touched.
 * With a password and/or TLS it is a production-shaped Redis that refuses clients without them.
 */
export class PrivateRedisServer {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly options: PrivateRedisOptions,
  ) {}

  /** Starts a server on a free loopback port. */
  static async start(options: PrivateRedisOptions = {}): Promise<PrivateRedisServer> {
    const server = new PrivateRedisServer(await freePort(), options);
    await server.start();
    return server;
  }

  /** The URL a client uses, password included. */
  get url(): string {
    const auth = this.options.password ? `:${encodeURIComponent(this.options.password)}@` : '';
    return this.options.tls ? `rediss://${auth}localhost:${this.port}` : `redis://${auth}127.0.0.1:${this.port}`;
  }

  /** The same server's URL without the password. */
  get urlWithoutPassword(): string {
    const url = new URL(this.url);
    url.password = '';
    return url.toString();
  }

  /** The CA file that verifies a TLS server's certificate (undefined without TLS). */
  get caFile(): string | undefined {
    return this.options.tls?.caFile;
  }

  /** Starts the server (again, after kill9: empty) and waits until it answers PING. */
  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        ...this.listenArgs(),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--maxmemory-policy',
        'noeviction',
      ],
      { stdio: 'ignore' },
    );
    this.child = child;
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`redis-server on port ${this.port} exited with ${child.exitCode}`);
      if (await answersPing(this.url, this.caFile)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`redis-server on port ${this.port} did not start within ${START_TIMEOUT_MS} ms`);
  }

  private listenArgs(): string[] {
    const { password, tls } = this.options;
    const auth = password ? ['--requirepass', password] : [];
    if (!tls) return ['--port', String(this.port), ...auth];
    return [
      '--port',
      '0',
      '--tls-port',
      String(this.port),
      '--tls-cert-file',
      tls.certFile,
      '--tls-key-file',
      tls.keyFile,
      '--tls-ca-cert-file',
      tls.caFile,
      '--tls-auth-clients',
      'no',
      ...auth,
    ];
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
    const admin = new Redis(this.url, { ...redisTlsOptions(this.url, this.caFile), maxRetriesPerRequest: 1 });
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

async function answersPing(url: string, caFile: string | undefined): Promise<boolean> {
  const probe = new Redis(url, {
    ...redisTlsOptions(url, caFile),
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
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
