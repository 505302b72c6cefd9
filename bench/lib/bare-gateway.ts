import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Dispatcher } from 'undici';
import { ROOT } from '@orrange/stack/services';
import { waitForHttp } from '@orrange/stack/stack';
import { runOpenLoop, usage, type LatencySummary, type RequestSpec } from './open-loop';

/** The bare gateway's ceiling is the highest rate answered within this at p99, with no error. */
export const BARE_P99_MAX_MS = 100;
/** Between steps, so that one step's stragglers are not the next one's load. */
const STEP_PAUSE_MS = 1000;

const TSX_LOADER = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const SERVER = path.join(__dirname, 'bare-gateway.server.ts');

export interface BareStep {
  rate: number;
  goodputPerS: number;
  latencyMs: LatencySummary;
  errors: number;
  byStatus: Record<string, number>;
  valid: boolean;
  invalidReason?: string;
  /** CPU milliseconds per request of the proxy, the upstream and the load generator. */
  cpuMsPerRequest: Record<string, number>;
}

export interface BareGateway {
  steps: BareStep[];
  /** The highest rate with p99 ≤ BARE_P99_MAX_MS and 0 errors (0 if none). */
  ceilingPerS: number;
  /**
   * Why the ladder stopped: the proxy's latency or errors (a true ceiling), the generator falling behind (the
   * ceiling is then at least the figure), or the last rate passed (add higher rates to find it).
   */
  stoppedBy: 'latency' | 'errors' | 'generator' | 'last rate';
}

export interface BareOptions {
  rates: number[];
  stepMs: number;
  agent: Dispatcher;
  ports: { proxy: number; upstream: number };
  /** Request i against the bare gateway at `base` (the same orders the stack gets). */
  request: (base: string) => (i: number) => RequestSpec;
  log: (line: string) => void;
}

/** One process of the bare gateway (see bare-gateway.server.ts for `args`). */
export function startBareServer(args: string[]): { child: ChildProcess; exited: Promise<void> } {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, SERVER, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return { child, exited: new Promise((resolve) => child.on('exit', () => resolve())) };
}

/**
 * Starts the bare gateway as two node processes (proxy and upstream), drives it with the same open-loop
 * generator and the same requests as the stack, at rising rates, and stops both processes.
 */
export async function measureBareGateway(options: BareOptions): Promise<BareGateway> {
  const upstream = startBareServer(['upstream', String(options.ports.upstream)]);
  const proxy = startBareServer(['proxy', String(options.ports.proxy), String(options.ports.upstream)]);
  const steps: BareStep[] = [];
  let stoppedBy: BareGateway['stoppedBy'] = 'last rate';
  try {
    await waitForHttp(`http://127.0.0.1:${options.ports.upstream}/`);
    await waitForHttp(`http://127.0.0.1:${options.ports.proxy}/`);
    const base = `http://127.0.0.1:${options.ports.proxy}`;
    const pids = { proxy: proxy.child.pid!, upstream: upstream.child.pid!, 'bench client': process.pid };
    // Warm-up: JIT and keep-alive sockets on both hops.
    await runOpenLoop({
      ratePerSecond: options.rates[0]!,
      durationMs: 2000,
      agent: options.agent,
      request: options.request(base),
    });
    for (const rate of options.rates) {
      await new Promise((resolve) => setTimeout(resolve, STEP_PAUSE_MS));
      const before = Object.values(pids).map(usage);
      const r = await runOpenLoop({
        ratePerSecond: rate,
        durationMs: options.stepMs,
        agent: options.agent,
        request: options.request(base),
      });
      const after = Object.values(pids).map(usage);
      const cpuMsPerRequest = Object.fromEntries(
        Object.keys(pids).map((label, i) => [
          label,
          Math.round(((after[i]!.cpuS - before[i]!.cpuS) * 1000 * 1000) / Math.max(1, r.scheduled)) / 1000,
        ]),
      );
      steps.push({
        rate,
        goodputPerS: r.goodputPerS,
        latencyMs: r.latencyMs,
        errors: r.errors,
        byStatus: r.byStatus,
        valid: r.valid,
        invalidReason: r.invalidReason,
        cpuMsPerRequest,
      });
      options.log(
        `bare gateway ${rate}/s: p99 ${r.latencyMs.p99} ms, ${r.errors} errors${r.valid ? '' : `, INVALID (${r.invalidReason})`}`,
      );
      if (!r.valid) stoppedBy = 'generator';
      else if (r.errors > 0) stoppedBy = 'errors';
      else if (r.latencyMs.p99 > BARE_P99_MAX_MS) stoppedBy = 'latency';
      else continue;
      break;
    }
  } finally {
    for (const p of [proxy, upstream]) if (p.child.exitCode === null) p.child.kill('SIGTERM');
    await Promise.all([proxy.exited, upstream.exited]);
  }
  const passing = steps.filter((s) => s.valid && s.errors === 0 && s.latencyMs.p99 <= BARE_P99_MAX_MS);
  return { steps, ceilingPerS: Math.max(0, ...passing.map((s) => s.rate)), stoppedBy };
}
