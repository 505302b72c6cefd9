import { Agent, request as send, type Dispatcher } from 'undici';

/**
 * Fixed-rate (open-loop) load: requests are scheduled at `ratePerSecond` regardless of how fast answers
 * come, and each latency is counted from the request's scheduled time, so a slow server cannot hide its
 * queueing (no coordinated omission).
 */
export interface LoadOptions {
  ratePerSecond: number;
  durationMs: number;
  /** Builds request number i. */
  request: (i: number) => RequestSpec;
  /** Keep-alive connections shared by the load's requests (see loadAgent). */
  agent: Dispatcher;
  /** A request still unanswered after this counts as an error. */
  timeoutMs?: number;
  /** Is this answer a success? Default: 2xx. */
  ok?: (status: number, body: string) => boolean;
  onResponse?: (i: number, status: number, body: string, latencyMs: number) => void;
}

export interface RequestSpec {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Requests with a label also get latencies of their own (e.g. BUY and SELL orders). */
  label?: string;
}

export interface LoadResult {
  rateTarget: number;
  sent: number;
  ok: number;
  errors: number;
  errorSamples: string[];
  achievedRate: number;
  latencyMs: LatencySummary;
  byLabel?: Record<string, LatencySummary>;
}

export type LatencySummary = ReturnType<typeof summarize>;

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[index]! * 100) / 100;
}

export function summarize(latencies: number[]) {
  const sorted = [...latencies].sort((a, b) => a - b);
  const mean = sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : 0;
  return { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: percentile(sorted, 100), mean: Math.round(mean * 100) / 100 };
}

/**
 * The load generator's connections: keep-alive, up to `connections` per origin. undici, because the
 * generator shares the machine with what it measures and costs far less CPU per request than node:http.
 */
export function loadAgent(connections = 512): Agent {
  return new Agent({ connections, pipelining: 1, keepAliveTimeout: 30_000 });
}

async function call(spec: RequestSpec, dispatcher: Dispatcher, timeoutMs: number): Promise<{ status: number; body: string }> {
  const headers = { ...(spec.body ? { 'content-type': 'application/json' } : {}), ...spec.headers };
  const res = await send(spec.url, { method: (spec.method ?? 'GET') as Dispatcher.HttpMethod, headers, body: spec.body, dispatcher, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  return { status: res.statusCode, body: await res.body.text() };
}

export async function runOpenLoop(options: LoadOptions): Promise<LoadResult> {
  const total = Math.floor((options.ratePerSecond * options.durationMs) / 1000);
  const intervalMs = 1000 / options.ratePerSecond;
  const timeoutMs = options.timeoutMs ?? 5000;
  const ok = options.ok ?? ((status) => status >= 200 && status < 300);
  const latencies: number[] = [];
  const labelled = new Map<string, number[]>();
  const errorSamples: string[] = [];
  let okCount = 0;
  let errors = 0;
  const inFlight: Promise<void>[] = [];
  const startedAt = performance.now();

  for (let i = 0; i < total; i++) {
    const scheduledAt = startedAt + i * intervalMs;
    const waitMs = scheduledAt - performance.now();
    if (waitMs > 1) await new Promise((resolve) => setTimeout(resolve, waitMs));
    const spec = options.request(i);
    // Every answer's latency counts, errors included, also under the request's label if it has one.
    const answered = () => {
      const latencyMs = performance.now() - scheduledAt;
      latencies.push(latencyMs);
      const own = spec.label === undefined ? undefined : labelled.get(spec.label);
      if (own) own.push(latencyMs);
      else if (spec.label !== undefined) labelled.set(spec.label, [latencyMs]);
      return latencyMs;
    };
    inFlight.push(
      call(spec, options.agent, timeoutMs).then(
        ({ status, body }) => {
          const latencyMs = answered();
          if (ok(status, body)) okCount++;
          else {
            errors++;
            if (errorSamples.length < 5) errorSamples.push(`${status} ${body.slice(0, 200)}`);
          }
          options.onResponse?.(i, status, body, latencyMs);
        },
        (error: Error) => {
          answered();
          errors++;
          if (errorSamples.length < 5) errorSamples.push(error.message);
        },
      ),
    );
  }
  await Promise.all(inFlight);
  const elapsedS = (performance.now() - startedAt) / 1000;
  const byLabel = labelled.size > 0 ? Object.fromEntries([...labelled].map(([label, values]) => [label, summarize(values)])) : undefined;
  return { rateTarget: options.ratePerSecond, sent: total, ok: okCount, errors, errorSamples, achievedRate: Math.round(total / elapsedS), latencyMs: summarize(latencies), byLabel };
}

/** Resident set size of a process in MB, from /proc (Linux). */
export async function rssMb(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

/** What a process has used so far, from /proc (Linux): CPU seconds (user + system) and write syscalls. */
export interface Usage {
  cpuS: number;
  /**
   * write/writev calls: on this kind of machine (a nested VM) each one on loopback, which wakes the process at
   * the other end, costs tens of microseconds, so their count per order says how many hops an order takes.
   */
  writes: number;
}

export async function usage(pid: number): Promise<Usage> {
  const { readFile } = await import('node:fs/promises');
  const [stat, io] = await Promise.all([readFile(`/proc/${pid}/stat`, 'utf8').catch(() => ''), readFile(`/proc/${pid}/io`, 'utf8').catch(() => '')]);
  // Fields after the command name (which may hold spaces) start at ") "; utime and stime are the 12th and 13th, in ticks of 1/100 s.
  const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return { cpuS: (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / 100, writes: Number(/syscw:\s+(\d+)/.exec(io)?.[1] ?? 0) };
}

/** The usage so far of every process whose command name is `comm` together (e.g. all of Postgres's backends). */
export async function usageOf(comm: string): Promise<Usage> {
  const { readdir, readFile } = await import('node:fs/promises');
  const pids = (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry));
  const own = await Promise.all(pids.map(async (pid) => ((await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim() === comm ? usage(Number(pid)) : { cpuS: 0, writes: 0 })));
  return own.reduce((a, b) => ({ cpuS: a.cpuS + b.cpuS, writes: a.writes + b.writes }), { cpuS: 0, writes: 0 });
}
