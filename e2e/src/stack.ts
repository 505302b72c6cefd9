import path from 'node:path';
import { createTestDatabase, createTestRedis, freePort, type TestDatabase, type TestRedis } from '@orrange/testing';
import {
  allocatePorts,
  launch,
  stackSpecs,
  startProcesses,
  stopAll,
  waitForHttp,
  type ProcessSpec,
  type Running,
  type StackPorts,
} from '@orrange/stack/stack';
import { ROOT, SERVICES } from '@orrange/stack/services';

export const ADMIN = { email: 'admin@e2e.test', password: 'e2e-admin-password-123' };

export { freePort };

export interface Stack {
  gatewayUrl: string;
  ports: StackPorts;
  testDb: TestDatabase;
  testRedis: TestRedis;
  env: NodeJS.ProcessEnv;
  processes: Running[];
  logs: string[];
  /** Kills one process the hard way (SIGKILL: no graceful shutdown, work in flight is abandoned). */
  kill9(label: string): Promise<void>;
  /** Starts a process again with its original spec and waits for its /health. */
  restart(label: string): Promise<void>;
  /** Stops a process gracefully (SIGTERM) and starts it again with `env` over its spec's (a new keyring, say). */
  reconfigure(label: string, env: NodeJS.ProcessEnv): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The whole product as real processes: the four services and the gateway, started from their TypeScript
 * sources on free ports against a fresh migrated database and a private Redis prefix, with the admin
 * seeded. `replicas` adds extra copies of services (behind the gateway's balancing).
 */
export async function startStack(
  options: { env?: NodeJS.ProcessEnv; replicas?: Partial<Record<string, number>> } = {},
): Promise<Stack> {
  const testDb = await createTestDatabase(
    SERVICES.map((s) => ({ schema: s.schema, dir: path.join(ROOT, 'services', s.name, 'prisma/migrations') })),
  );
  const testRedis = await createTestRedis();
  const ports: StackPorts = await allocatePorts(freePort);
  const replicaPorts: Record<string, number[]> = {};
  for (const [name, count] of Object.entries(options.replicas ?? {})) {
    replicaPorts[name] = [];
    for (let i = 0; i < (count ?? 0); i++) replicaPorts[name]!.push(await freePort());
  }
  const env: NodeJS.ProcessEnv = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    DATABASE_URL: testDb.url,
    REDIS_URL: testRedis.url,
    REDIS_PREFIX: testRedis.prefix,
    DB_POOL_MAX: '5',
    RATE_LIMIT_PER_MINUTE: '100000',
    AUTH_RATE_LIMIT_PER_MINUTE: '100000',
    ...options.env,
  };

  const { seedAdmin } = (await import(path.join(ROOT, 'services/user/src/seed'))) as {
    seedAdmin: (o: { databaseUrl: string; email: string; password: string }) => Promise<unknown>;
  };
  await seedAdmin({ databaseUrl: testDb.url, ...ADMIN });

  const logs: string[] = [];
  const specs = stackSpecs(env, ports, replicaPorts);
  const launchOptions = {
    mode: 'source' as const,
    onLine: (label: string, line: string) => logs.push(`${label} | ${line}`),
  };
  const processes: Running[] = await startProcesses(specs, launchOptions).catch((error: Error) => {
    throw new Error(`${error.message}\n${logs.slice(-40).join('\n')}`);
  });
  /** Starts a process again from its spec (after kill9) and waits for its /health. */
  const start = async (spec: ProcessSpec) => {
    const running = launch(spec, launchOptions);
    processes[processes.findIndex((p) => p.spec.label === spec.label)] = running;
    await waitForHttp(`http://127.0.0.1:${spec.env.PORT}/health`, 60_000, (status) => status === 200 || status === 503);
  };

  const find = (label: string) => {
    const running = processes.find((p) => p.spec.label === label);
    if (!running) throw new Error(`no process ${label}`);
    return running;
  };
  return {
    gatewayUrl: `http://127.0.0.1:${ports.gateway}`,
    ports,
    testDb,
    testRedis,
    env,
    processes,
    logs,
    async kill9(label) {
      const running = find(label);
      running.child.kill('SIGKILL');
      await running.exited;
      // The process we killed must be the service itself: a wrapper's death would leave it running, and the
      // "crash" would be none.
      const stillAnswering = await fetch(`http://127.0.0.1:${running.spec.env.PORT}/health`, {
        signal: AbortSignal.timeout(1000),
      }).then(
        () => true,
        () => false,
      );
      if (stillAnswering)
        throw new Error(`${label} still answers after kill -9: the killed process was not the service`);
    },
    async restart(label) {
      await start(find(label).spec);
    },
    async reconfigure(label, changes) {
      const running = find(label);
      await stopAll([running], 10_000);
      await start({ ...running.spec, env: { ...running.spec.env, ...changes } });
    },
    async stop() {
      await stopAll(processes, 10_000);
      await testRedis.cleanup();
      await testDb.drop();
    },
  };
}
