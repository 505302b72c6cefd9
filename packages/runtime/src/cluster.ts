import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import { AggregatorRegistry, type Registry } from 'prom-client';

/** What the primary logs through: the service's winston logger fits. */
export interface ClusterLogger {
  info(message: string, meta?: Record<string, unknown>): unknown;
  warn(message: string, meta?: Record<string, unknown>): unknown;
  error(message: string, meta?: Record<string, unknown>): unknown;
}

export interface ClusterOptions {
  /**
   * How long the workers get to stop after the primary forwarded SIGTERM; those still running then are killed
   * and the primary exits 1. Give it the service's SHUTDOWN_TIMEOUT_MS: each worker cuts its own shutdown off
   * after that, so this only catches a worker that hangs beyond it. Default 10 s.
   */
  shutdownTimeoutMs?: number;
  /** Restart delay after a first unexpected death; doubled per further death in a row. Default 250 ms. */
  restartDelayMs?: number;
  /** The restart delay never grows beyond this. Default 30 s. */
  restartDelayMaxMs?: number;
  /** A worker that lived this long was healthy: its death starts the backoff again from restartDelayMs. Default 30 s. */
  stableAfterMs?: number;
}

/** Upper bound of GATEWAY_WORKERS and the like: more event loops than this is a configuration mistake. */
export const CLUSTER_WORKERS_MAX = 64;

/** The default number of workers: one event loop per core the process may use. */
export function availableCores(): number {
  return os.availableParallelism();
}

/** Extra time the primary waits beyond a worker's own shutdown cut-off before it kills it. */
const SHUTDOWN_GRACE_MS = 1_000;

/** The delay before restarting a worker after `deathsInRow` unexpected deaths (1 for the first). */
export function restartDelayMs(
  deathsInRow: number,
  options: Pick<ClusterOptions, 'restartDelayMs' | 'restartDelayMaxMs'> = {},
): number {
  const base = options.restartDelayMs ?? 250;
  const max = options.restartDelayMaxMs ?? 30_000;
  return Math.min(max, base * 2 ** Math.min(Math.max(deathsInRow - 1, 0), 30));
}

/**
 * Runs `startWorker` in `workers` processes behind one port (node:cluster), or in this process when `workers`
 * is 1. Each worker is the whole service with its own event loop, pools and in-memory caches; the primary only
 * supervises, and never runs `startWorker` itself:
 * - a worker that dies unexpectedly is forked again after a backoff (restartDelayMs, doubling per death in a
 *   row, reset once a worker has lived `stableAfterMs`), so a crashing worker never becomes a fork loop;
 * - if workers die before any of them has ever listened, the start itself is broken (port taken, bad
 *   config): the primary exits 1, as the single process would have, instead of retrying forever;
 * - SIGTERM or SIGINT is forwarded to every worker as SIGTERM (a second SIGINT, which a terminal's Ctrl-C
 *   also sends to each worker directly, would skip a worker's graceful shutdown); the primary exits once all
 *   have: 0 when every worker stopped cleanly, 1 otherwise or after `shutdownTimeoutMs`;
 * - a worker whose primary is gone exits (node:cluster's own rule), so no worker outlives a killed primary.
 *
 * The caller reads its config before calling this (in the primary too, so a bad one fails before any fork),
 * and builds its resources only inside `startWorker`: the primary holds no connections.
 */
export async function runClustered(
  workers: number,
  startWorker: () => Promise<unknown>,
  logger: ClusterLogger,
  options: ClusterOptions = {},
): Promise<void> {
  if (!Number.isInteger(workers) || workers < 1 || workers > CLUSTER_WORKERS_MAX)
    throw new Error(`workers must be an integer from 1 to ${CLUSTER_WORKERS_MAX}, not ${workers}`);
  if (workers === 1 || cluster.isWorker) {
    await startWorker();
    return;
  }
  superviseWorkers(workers, logger, options);
}

function superviseWorkers(count: number, logger: ClusterLogger, options: ClusterOptions): void {
  const stableAfterMs = options.stableAfterMs ?? 30_000;
  const startedAt = new Map<number, number>();
  const restarts = new Set<NodeJS.Timeout>();
  let deathsInRow = 0;
  let everListened = false;
  let stopping = false;
  let cleanExits = true;

  const fork = () => {
    const worker = cluster.fork();
    startedAt.set(worker.id, Date.now());
  };
  const live = () => Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined);

  cluster.on('listening', (worker) => {
    if (!everListened) logger.info('cluster listening', { workers: count, pid: process.pid });
    everListened = true;
    logger.info('worker listening', { worker: worker.id, pid: worker.process.pid });
  });

  cluster.on('exit', (worker, code, signal) => {
    const livedMs = Date.now() - (startedAt.get(worker.id) ?? Date.now());
    startedAt.delete(worker.id);
    if (stopping) {
      if (code !== 0) cleanExits = false;
      logger.info('worker stopped', { worker: worker.id, pid: worker.process.pid, code, signal });
      if (live().length === 0) finish(cleanExits ? 0 : 1);
      return;
    }
    if (!everListened) {
      logger.error('worker died while starting; the cluster does not start', {
        worker: worker.id,
        pid: worker.process.pid,
        code,
        signal,
      });
      return stop('start failed', 1);
    }
    deathsInRow = livedMs >= stableAfterMs ? 1 : deathsInRow + 1;
    const delayMs = restartDelayMs(deathsInRow, options);
    logger.error('worker died; restarting it', {
      worker: worker.id,
      pid: worker.process.pid,
      code,
      signal,
      livedMs,
      restartInMs: delayMs,
    });
    const timer = setTimeout(() => {
      restarts.delete(timer);
      if (!stopping) fork();
    }, delayMs);
    restarts.add(timer);
  });

  const finish = (code: number) => {
    logger.info('cluster stopped', { code });
    process.exit(code);
  };

  function stop(reason: string, code = 0): void {
    if (stopping) return;
    stopping = true;
    if (code !== 0) cleanExits = false;
    for (const timer of restarts) clearTimeout(timer);
    restarts.clear();
    const running = live();
    logger.info('stopping workers', { reason, workers: running.length });
    if (running.length === 0) {
      finish(cleanExits ? 0 : 1);
      return;
    }
    for (const worker of running) worker.process.kill('SIGTERM');
    setTimeout(
      () => {
        for (const worker of live()) {
          logger.error('worker did not stop in time; killing it', { worker: worker.id, pid: worker.process.pid });
          worker.process.kill('SIGKILL');
        }
        finish(1);
      },
      (options.shutdownTimeoutMs ?? 10_000) + SHUTDOWN_GRACE_MS,
    ).unref();
  }

  answerMetricsRequests();
  // `on`, not `once`: a second Ctrl-C must not kill the primary with the default action while workers stop.
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  logger.info('starting workers', { workers: count, pid: process.pid });
  for (let i = 0; i < count; i++) fork();
}

/** The IPC message a worker sends the primary for the whole cluster's metrics, and the primary's answer. */
const METRICS_MESSAGE = 'orrange:cluster-metrics';
/** A scrape that waits longer than this for the other workers fails (prom-client's own limit is 5 s). */
const METRICS_TIMEOUT_MS = 6_000;

interface MetricsMessage {
  type: typeof METRICS_MESSAGE;
  id: number;
  text?: string;
  error?: string;
}

const isMetricsMessage = (message: unknown): message is MetricsMessage =>
  (message as { type?: unknown } | null)?.type === METRICS_MESSAGE;

/** In the primary: a worker's request for the cluster's metrics is answered with every worker's, aggregated. */
function answerMetricsRequests(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker: Worker, message: unknown) => {
    if (!isMetricsMessage(message)) return;
    const reply = (answer: Partial<MetricsMessage>) =>
      worker.isConnected() && worker.send({ type: METRICS_MESSAGE, id: message.id, ...answer });
    aggregator.clusterMetrics().then(
      (text) => reply({ text }),
      (error: Error) => reply({ error: error.message }),
    );
  });
}

/**
 * What a service's /metrics should answer. In a single process: its registry. In a cluster worker: the sum of
 * every worker's registry (counters and histograms added, gauges as each declares with `aggregator`), asked of
 * the primary, which asks each worker over IPC (prom-client's AggregatorRegistry). A scrape lands on whichever
 * worker accepts it; without this it would see that worker's counters only, and a different worker's at the
 * next scrape. Call once per registry, in the worker.
 */
export function clusterMetrics(registry: Registry): () => Promise<string> {
  if (!cluster.isWorker || !process.send) return () => registry.metrics();
  AggregatorRegistry.setRegistries([registry]);
  new AggregatorRegistry(); // in a worker: answers the primary's requests with this registry's metrics
  const pending = new Map<number, { resolve: (text: string) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  process.on('message', (message: unknown) => {
    if (!isMetricsMessage(message)) return;
    const waiting = pending.get(message.id);
    pending.delete(message.id);
    if (message.error !== undefined) waiting?.reject(new Error(message.error));
    else waiting?.resolve(message.text ?? '');
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error('cluster metrics timed out'));
      }, METRICS_TIMEOUT_MS);
      pending.set(id, {
        resolve: (text) => {
          clearTimeout(timer);
          resolve(text);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      process.send!({ type: METRICS_MESSAGE, id } satisfies MetricsMessage);
    });
}
