import {
  DEFAULT_PORTS,
  stackSpecs,
  startProcesses,
  stopAll,
  waitForHttp,
  type Running,
  type StackOptions,
} from './stack';
import { setting } from './services';

function print(label: string, line: string, color: number): void {
  process.stdout.write(`\x1b[${color}m${label.padEnd(16)}|\x1b[0m ${line}\n`);
}

/**
 * Runs the four services and the gateway on the default ports with their logs prefixed per process, until Ctrl-C
 * (or a process exits: the stack stops with it). `pnpm start` runs the compiled code; `pnpm dev:database` the
 * sources under `node --watch`, which restarts a service when a file it imports changes.
 */
export async function serveStack(options: Pick<StackOptions, 'mode' | 'watch'>): Promise<void> {
  const env = { DATABASE_URL: setting('DATABASE_URL'), REDIS_URL: setting('REDIS_URL') };
  const running: Running[] = await startProcesses(stackSpecs(env, DEFAULT_PORTS), { ...options, onLine: print });

  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    print('start', 'stopping every process…', 37);
    await stopAll(running);
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  for (const r of running) {
    void r.exited.then((code) => {
      if (!stopping) {
        print(r.spec.label, `exited with code ${code}; stopping the stack`, 31);
        void shutdown(1);
      }
    });
  }

  await waitForHttp(`http://127.0.0.1:${DEFAULT_PORTS.gateway}/health`, 60_000);
  const restarts = options.watch ? ' A service restarts when its code (or a package it imports) changes.' : '';
  print(
    'start',
    `Orrange is up: http://localhost:${DEFAULT_PORTS.gateway} (docs at /docs, health at /health).${restarts} Ctrl-C stops everything.`,
    32,
  );
}

export { print };
