/**
 * `pnpm start`: the whole stack on one machine. Checks Postgres and Redis, sets up the database
 * (create, migrate every service, seed the admin), builds what changed, then runs the four services and
 * the gateway with their logs prefixed per process. Ctrl-C stops them all gracefully.
 */
import { OperatorError, pingRedis, run } from './lib/infra';
import { DEFAULT_PORTS, stackSpecs, startProcesses, stopAll, waitForHttp, type Running } from './lib/stack';
import { loadDotEnv, ROOT, setting } from './lib/services';
import { setup } from './db';

function print(label: string, line: string, color: number): void {
  process.stdout.write(`\x1b[${color}m${label.padEnd(16)}|\x1b[0m ${line}\n`);
}

async function main(): Promise<void> {
  loadDotEnv();
  await pingRedis(setting('REDIS_URL'));
  await setup();
  print('build', 'building services (turbo; cached after the first run)…', 37);
  await run(`${ROOT}/node_modules/.bin/turbo`, ['run', 'build', '--output-logs=errors-only'], { cwd: ROOT, env: { TURBO_TELEMETRY_DISABLED: '1' } });

  const env = { DATABASE_URL: setting('DATABASE_URL'), REDIS_URL: setting('REDIS_URL') };
  const specs = stackSpecs(env, DEFAULT_PORTS);
  const running: Running[] = await startProcesses(specs, { mode: 'dist', onLine: print });

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
  print('start', `Orrange is up: http://localhost:${DEFAULT_PORTS.gateway} (docs at /docs, health at /health). Ctrl-C stops everything.`, 32);
}

main().catch((error: unknown) => {
  console.error(`[start] ${error instanceof OperatorError ? error.message : (error as Error).stack}`);
  process.exit(1);
});
