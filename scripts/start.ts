/**
 * `pnpm start`: the whole stack on one machine. Checks Postgres and Redis, sets up the database
 * (create, migrate every service, seed the admin), builds what changed, then runs the four services and
 * the gateway with their logs prefixed per process. Ctrl-C stops them all gracefully.
 */
import { OperatorError, pingRedis, run } from './lib/infra';
import { print, serveStack } from './lib/serve';
import { loadDotEnv, ROOT, setting } from './lib/services';
import { setup } from './db';

async function main(): Promise<void> {
  loadDotEnv();
  await pingRedis(setting('REDIS_URL'));
  await setup();
  print('build', 'building services (turbo; cached after the first run)…', 37);
  await run(`${ROOT}/node_modules/.bin/turbo`, ['run', 'build', '--output-logs=errors-only'], {
    cwd: ROOT,
    env: { TURBO_TELEMETRY_DISABLED: '1' },
  });
  await serveStack({ mode: 'dist' });
}

main().catch((error: unknown) => {
  console.error(`[start] ${error instanceof OperatorError ? error.message : (error as Error).stack}`);
  process.exit(1);
});
