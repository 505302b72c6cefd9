import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';

/** How long a fresh redis-server may take to answer PING. */
const START_TIMEOUT_MS = 10_000;

export interface PrivateRedis {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * A redis-server of the bench's own (no persistence, as the machine's), so that its CPU and its command count
 * are the stack's alone: the machine's Redis serves other engineers' test runs too. Undefined when
 * redis-server cannot be started here; the bench then uses REDIS_URL and says so.
 */
export async function startPrivateRedis(port: number): Promise<PrivateRedis | undefined> {
  let child: ChildProcess;
  try {
    child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
        '--loglevel',
        'warning',
      ],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
  } catch {
    return undefined;
  }
  const exited = new Promise<void>((resolve) => {
    child.on('exit', () => resolve());
    child.on('error', () => resolve());
  });
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline && child.exitCode === null && child.pid !== undefined) {
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => undefined);
    const up = await redis
      .connect()
      .then(() => redis.ping())
      .then(() => true)
      .catch(() => false);
    redis.disconnect();
    if (up) {
      return {
        url,
        pid: child.pid,
        stop: async () => {
          if (child.exitCode === null) child.kill('SIGTERM');
          await exited;
        },
      };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (child.exitCode === null) child.kill('SIGKILL');
  return undefined;
}
