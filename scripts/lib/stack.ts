import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { GATEWAY, ROOT, serviceDir, SERVICES } from './services';
import type { ServiceName } from '@orrange/config';

const COLORS = [36, 35, 33, 32, 34, 31];

export interface ProcessSpec {
  /** Label for log prefixes, e.g. `order-book` or `order-book#2`. */
  label: string;
  service: string;
  env: NodeJS.ProcessEnv;
}

export interface Running {
  spec: ProcessSpec;
  child: ChildProcess;
  exited: Promise<number | null>;
}

export interface StackOptions {
  /** Run compiled `dist/index.js` (after `turbo run build`) or the TypeScript sources through tsx. */
  mode: 'dist' | 'source';
  /** Where each line of output goes; `start` prefixes and prints, tests keep it quiet. */
  onLine?: (label: string, line: string, color: number) => void;
  /** In `source` mode: run under `node --watch`, which restarts the service when a file it imports changes. */
  watch?: boolean;
  /** Extra flags for node in `dist` mode, e.g. `--cpu-prof` (which NODE_OPTIONS does not accept). */
  nodeArgs?: string[];
}

/**
 * tsx's loader, registered in the service's own node process. Not the tsx CLI: it runs the service as a child
 * of its own, so a SIGKILL (a crash in the fault tests) killed only the CLI and left the service running,
 * orphaned, still holding its port, its queues and the pipes of our output.
 */
const TSX_LOADER = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

/** Starts one service process: `child` is the service itself, so signals reach it. */
export function launch(spec: ProcessSpec, options: StackOptions, color = COLORS[0]!): Running {
  const dir = serviceDir(spec.service);
  const [command, args] =
    options.mode === 'dist'
      ? [process.execPath, [...(options.nodeArgs ?? []), '--enable-source-maps', path.join(dir, 'dist/index.js')]]
      : [
          process.execPath,
          [
            ...(options.watch ? ['--watch'] : []),
            '--import',
            TSX_LOADER,
            '--conditions=@orrange/source',
            '--enable-source-maps',
            path.join(dir, 'src/index.ts'),
          ],
        ];
  const child = spawn(command, args, {
    cwd: dir,
    env: { ...process.env, ...spec.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = '';
    stream.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) if (line) options.onLine?.(spec.label, line, color);
    });
  }
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { spec, child, exited };
}

/** A port for every service of the registry, and the gateway's. */
export type StackPorts = Record<ServiceName | typeof GATEWAY.name, number>;

export const DEFAULT_PORTS: StackPorts = {
  ...Object.fromEntries(SERVICES.map((s) => [s.name, s.port])),
  gateway: GATEWAY.port,
} as StackPorts;

/** A port from `take` (e.g. a free one) for every registered service and the gateway. */
export async function allocatePorts(take: () => Promise<number>): Promise<StackPorts> {
  const ports: Partial<StackPorts> = {};
  for (const name of [...SERVICES.map((s) => s.name), GATEWAY.name]) ports[name] = await take();
  return ports as StackPorts;
}

/** The process specs of a whole stack: every service (with `replicas` copies each) and the gateway. */
export function stackSpecs(
  env: NodeJS.ProcessEnv,
  ports: StackPorts,
  replicas: Record<string, number[]> = {},
): ProcessSpec[] {
  const specs: ProcessSpec[] = [];
  const gatewayEnv: NodeJS.ProcessEnv = {
    ...env,
    PORT: String(ports.gateway),
    NODE_OPTIONS: [env.NODE_OPTIONS, GATEWAY.nodeOptions].filter(Boolean).join(' '),
  };
  for (const service of SERVICES) {
    const servicePorts = [ports[service.name], ...(replicas[service.name] ?? [])];
    servicePorts.forEach((port, i) =>
      specs.push({
        label: i === 0 ? service.name : `${service.name}#${i + 1}`,
        service: service.name,
        env: { ...env, PORT: String(port) },
      }),
    );
    gatewayEnv[service.urlVar] = servicePorts.map((port) => `http://127.0.0.1:${port}`).join(',');
  }
  specs.push({ label: GATEWAY.name, service: GATEWAY.name, env: gatewayEnv });
  return specs;
}

/** Waits until `url` answers 200 (or `until` ms pass). */
export async function waitForHttp(
  url: string,
  timeoutMs = 30_000,
  accept: (status: number) => boolean = (status) => status === 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (accept(res.status)) return;
      last = `status ${res.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url} did not become ready within ${timeoutMs} ms (${last})`);
}

/** SIGTERM every process, then SIGKILL what is still alive after `graceMs`. */
export async function stopAll(running: Running[], graceMs = 10_000): Promise<void> {
  for (const r of running) if (r.child.exitCode === null) r.child.kill('SIGTERM');
  const timer = setTimeout(() => running.forEach((r) => r.child.exitCode === null && r.child.kill('SIGKILL')), graceMs);
  await Promise.all(running.map((r) => r.exited));
  clearTimeout(timer);
}

export { COLORS };

/**
 * Starts the services first and the gateway once every service answers /health, so the gateway's first
 * probes find them up. `ready` accepts 503 too: a service that is up but degraded still starts.
 */
export async function startProcesses(
  specs: ProcessSpec[],
  options: StackOptions,
  timeoutMs = 60_000,
): Promise<Running[]> {
  const running: Running[] = [];
  const start = async (spec: ProcessSpec, color: number) => {
    const r = launch(spec, options, color);
    running.push(r);
    const exited = r.exited.then((code) =>
      Promise.reject(new Error(`${spec.label} exited with code ${code} while starting`)),
    );
    await Promise.race([
      waitForHttp(
        `http://127.0.0.1:${spec.env.PORT}/health`,
        timeoutMs,
        (status): boolean => status === 200 || status === 503,
      ),
      exited,
    ]);
  };
  try {
    await Promise.all(
      specs.filter((s) => s.service !== GATEWAY.name).map((spec, i) => start(spec, COLORS[i % COLORS.length]!)),
    );
    for (const spec of specs.filter((s) => s.service === GATEWAY.name)) await start(spec, 37);
  } catch (error) {
    await stopAll(running, 2000);
    throw error;
  }
  return running;
}
