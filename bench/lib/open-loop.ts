import { readFileSync } from 'node:fs';
import os from 'node:os';
import { Agent, request as send, type Dispatcher } from 'undici';

/**
 * Fixed-rate (open-loop) load: requests are scheduled at `ratePerSecond` regardless of how fast answers
 * come, and each latency is counted from the request's scheduled time, so a slow server cannot hide its
 * queueing (no coordinated omission). The generator checks itself too: a step whose sends started late
 * measured the generator, not the server, and is marked invalid.
 */
export interface LoadOptions {
  ratePerSecond: number;
  durationMs: number;
  /** Builds request number i. */
  request: (i: number) => RequestSpec;
  /** Keep-alive connections shared by the load's requests (see loadAgent). */
  agent: Dispatcher;
  /** A request still unanswered after this counts as an error ("timeout"). */
  timeoutMs?: number;
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

/** A send that starts later than this after its scheduled time means the generator fell behind. */
export const SEND_LATE_P99_MAX_MS = 10;
/**
 * Fewer sends than this share of the schedule started within the window (plus SEND_LATE_P99_MAX_MS): the
 * generator fell behind. Not 100 %: one pause in the last milliseconds says nothing about the step.
 */
export const SENT_IN_WINDOW_SHARE_MIN = 0.999;
/** Requests unanswered this long after they went out count as errors ("timeout"). */
export const REQUEST_TIMEOUT_MS = 5000;
/**
 * The generator's scheduling priority while it sends (a nice value; lower is sooner). Real clients run on
 * machines of their own and never wait for the stack's CPU to send; here they share 2 cores with it, and at
 * normal priority a saturated stack would make the generator late and every saturated step invalid. Linux
 * applies it to the event loop's thread only, the one that sends; children started meanwhile would inherit it,
 * and none are.
 */
const GENERATOR_NICE = -10;

let raisedLoads = 0;
let priorityNote: string | undefined;

/** Raises the generator's priority for as long as any load runs (loads run side by side: orders and reads). */
function raisePriority(): void {
  if (raisedLoads++ > 0) return;
  try {
    os.setPriority(GENERATOR_NICE);
  } catch (error) {
    priorityNote ??= `the load generator runs at normal priority (${(error as Error).message})`;
  }
}

function restorePriority(): void {
  if (--raisedLoads > 0) return;
  try {
    os.setPriority(0);
  } catch {
    // never raised
  }
}

/** Why the generator could not raise its priority, if it could not (printed with the results). */
export function generatorPriorityNote(): string | undefined {
  return priorityNote;
}

export interface LoadResult {
  rateTarget: number;
  durationMs: number;
  /** Requests the schedule asked for: rate × duration. */
  scheduled: number;
  /** Sends started by the end of the window (plus SEND_LATE_P99_MAX_MS). */
  sentInWindow: number;
  /** 2xx answers. */
  ok: number;
  /** 2xx per second, over the window or until the last answer came, whichever is longer. */
  goodputPerS: number;
  /** Every answer that was not a 2xx, 503s included; see byStatus. */
  errors: number;
  /** 503s on their own: the stack shedding load on purpose (with Retry-After), not failing. */
  unavailable503: number;
  /** Answers by status code, and `timeout` / the error code for requests that got none. */
  byStatus: Record<string, number>;
  errorSamples: string[];
  /** Every answer, errors included. */
  latencyMs: LatencySummary;
  /** 2xx answers only: what a client whose request was accepted waited. */
  acceptedLatencyMs: LatencySummary;
  byLabel?: Record<string, LatencySummary>;
  /** How late sends started after their scheduled time: the generator's own health. */
  sendLateMs: LatencySummary;
  /** False when the generator fell behind its schedule: the numbers then describe the generator. */
  valid: boolean;
  invalidReason?: string;
}

export type LatencySummary = ReturnType<typeof summarize>;

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[index]! * 100) / 100;
}

export function summarize(latencies: number[]) {
  const sorted = Float64Array.from(latencies).sort();
  const values = Array.from(sorted);
  const mean = values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;
  return {
    count: values.length,
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    p99: percentile(values, 99),
    p999: percentile(values, 99.9),
    max: percentile(values, 100),
    mean: Math.round(mean * 100) / 100,
  };
}

/**
 * The load generator's connections: keep-alive, up to `connections` per origin. undici, because the
 * generator shares the machine with what it measures and costs far less CPU per request than node:http.
 */
export function loadAgent(connections = 512): Agent {
  return new Agent({ connections, pipelining: 1, keepAliveTimeout: 30_000 });
}

async function call(
  spec: RequestSpec,
  dispatcher: Dispatcher,
  timeoutMs: number,
): Promise<{ status: number; body: string }> {
  const headers = { ...(spec.body ? { 'content-type': 'application/json' } : {}), ...spec.headers };
  const res = await send(spec.url, {
    method: (spec.method ?? 'GET') as Dispatcher.HttpMethod,
    headers,
    body: spec.body,
    dispatcher,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  return { status: res.statusCode, body: await res.body.text() };
}

/** `timeout` for undici's own timeouts, else the error's code (ECONNRESET, …) or `network`. */
function failureKind(error: Error & { code?: string }): string {
  if (error.code === 'UND_ERR_HEADERS_TIMEOUT' || error.code === 'UND_ERR_BODY_TIMEOUT') return 'timeout';
  return error.code ?? 'network';
}

export async function runOpenLoop(options: LoadOptions): Promise<LoadResult> {
  raisePriority();
  try {
    return await openLoop(options);
  } finally {
    restorePriority();
  }
}

async function openLoop(options: LoadOptions): Promise<LoadResult> {
  const scheduled = Math.floor((options.ratePerSecond * options.durationMs) / 1000);
  const intervalMs = 1000 / options.ratePerSecond;
  const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
  const latencies: number[] = [];
  const accepted: number[] = [];
  const lateness: number[] = [];
  const labelled = new Map<string, number[]>();
  const byStatus: Record<string, number> = {};
  const errorSamples: string[] = [];
  let okCount = 0;
  let lastAnswerAt = 0;
  const inFlight: Promise<void>[] = [];
  const startedAt = performance.now();
  const windowEnd = startedAt + options.durationMs + SEND_LATE_P99_MAX_MS;
  let sentInWindow = 0;

  const count = (kind: string) => (byStatus[kind] = (byStatus[kind] ?? 0) + 1);
  for (let i = 0; i < scheduled; i++) {
    const scheduledAt = startedAt + i * intervalMs;
    const waitMs = scheduledAt - performance.now();
    if (waitMs > 1) await new Promise((resolve) => setTimeout(resolve, waitMs));
    const spec = options.request(i);
    const sendAt = performance.now();
    lateness.push(Math.max(0, sendAt - scheduledAt));
    if (sendAt <= windowEnd) sentInWindow++;
    // Every answer's latency counts, errors included, also under the request's label if it has one.
    const answered = () => {
      lastAnswerAt = performance.now();
      const latencyMs = lastAnswerAt - scheduledAt;
      latencies.push(latencyMs);
      if (spec.label !== undefined) {
        const own = labelled.get(spec.label);
        if (own) own.push(latencyMs);
        else labelled.set(spec.label, [latencyMs]);
      }
      return latencyMs;
    };
    inFlight.push(
      call(spec, options.agent, timeoutMs).then(
        ({ status, body }) => {
          const latencyMs = answered();
          count(String(status));
          if (status >= 200 && status < 300) {
            okCount++;
            accepted.push(latencyMs);
          } else if (errorSamples.length < 5) errorSamples.push(`${status} ${body.slice(0, 200)}`);
          options.onResponse?.(i, status, body, latencyMs);
        },
        (error: Error) => {
          answered();
          count(failureKind(error));
          if (errorSamples.length < 5) errorSamples.push(error.message);
        },
      ),
    );
  }
  await Promise.all(inFlight);
  const elapsedS = Math.max(options.durationMs, lastAnswerAt - startedAt) / 1000;
  const sendLateMs = summarize(lateness);
  const invalidReason =
    sendLateMs.p99 > SEND_LATE_P99_MAX_MS
      ? `sends started ${sendLateMs.p99} ms late at p99 (> ${SEND_LATE_P99_MAX_MS} ms)`
      : sentInWindow < SENT_IN_WINDOW_SHARE_MIN * scheduled
        ? `${sentInWindow} of ${scheduled} sent within the window`
        : undefined;
  return {
    rateTarget: options.ratePerSecond,
    durationMs: options.durationMs,
    scheduled,
    sentInWindow,
    ok: okCount,
    goodputPerS: Math.round((okCount / elapsedS) * 10) / 10,
    errors: scheduled - okCount,
    unavailable503: byStatus['503'] ?? 0,
    byStatus,
    errorSamples,
    latencyMs: summarize(latencies),
    acceptedLatencyMs: summarize(accepted),
    byLabel:
      labelled.size > 0
        ? Object.fromEntries([...labelled].map(([label, values]) => [label, summarize(values)]))
        : undefined,
    sendLateMs,
    valid: invalidReason === undefined,
    invalidReason,
  };
}

/**
 * /proc files are read synchronously: each read takes microseconds, while an asynchronous one goes through
 * libuv's thread pool and back, costing the generator more CPU and a wake-up of its event loop each.
 */
function procFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return ''; // the process is gone
  }
}

/** Resident set size of a process in MB, from /proc (Linux). */
export function rssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(procFile(`/proc/${pid}/status`))?.[1] ?? 0);
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

export function usage(pid: number): Usage {
  const stat = procFile(`/proc/${pid}/stat`);
  // Fields after the command name (which may hold spaces) start at ") "; utime and stime are the 12th and 13th, in ticks of 1/100 s.
  const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return {
    cpuS: (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / 100,
    writes: Number(/syscw:\s+(\d+)/.exec(procFile(`/proc/${pid}/io`))?.[1] ?? 0),
  };
}
