import type { BareGateway } from './bare-gateway';
import type { PerOrder } from './counters';
import type { Environment } from './environment';
import type { LatencySummary, LoadResult } from './open-loop';

/** The performance issue's targets, each judged in the table. */
export const TARGET_RATE_PER_S = 300;
export const TARGET_STEP_S = 60;
export const ORDER_P99_MAX_MS = 100;
export const BOOK_P99_MAX_MS = 25;
export const MATCH_TO_ESCROW_P99_MAX_MS = 50;
export const STACK_CPU_PER_ORDER_MAX_MS = 4;
/** Saturation goodput as a share of the bare gateway's ceiling. */
export const SATURATION_SHARE_MIN = 0.35;
export const SINGLE_MARKET_RATE_PER_S = 200;
/** At twice the saturation rate, goodput as a share of saturation, and what accepted orders may wait. */
export const OVERLOAD_GOODPUT_SHARE_MIN = 0.9;
export const OVERLOAD_ACCEPTED_P99_MAX_MS = 250;
export const RSS_MAX_MB = 256;
export const TOKEN_CHECK_P99_MAX_MS = 2;
export const LOGIN_P99_MAX_MS = 250;
export const STATS_P99_MAX_MS = 200;
/** The ladder stops after the first step whose p99 is over this: past it, higher rates only take longer. */
export const LADDER_STOP_P99_MS = 1000;

export interface Step {
  name: string;
  rate: number;
  markets: number;
  durationS: number;
  orders: LoadResult;
  bookReads: LoadResult;
  matchToEscrow: { matches: number; withTrade: number; latencyMs: LatencySummary };
  /** CPU ms per accepted order by process: in the window, and with the backlog it left until quiet. */
  cpuMsPerOrder: { window: Record<string, number>; withBacklog: Record<string, number>; stackWithBacklog: number };
  writesPerOrder: Record<string, number>;
  /** Seconds the stack took to become quiet after the window. */
  backlogS: number;
  perOrder?: PerOrder;
  rssMbMax: Record<string, number>;
  pgConnectionsMax: number;
  topStatements?: unknown;
}

export interface Results {
  startedAt: string;
  finishedAt?: string;
  environment: Environment;
  config: Record<string, unknown>;
  bareGateway?: BareGateway;
  ladder: Step[];
  saturation?: { goodputPerS: number; atRate: number };
  singleMarket?: Step;
  overload?: Step;
  connections?: { held: number; stillOpen: number; failed: number; gatewayRssMb: number; orders: LoadResult };
  gatewayCost?: {
    direct: LatencySummary;
    viaGateway: LatencySummary;
    addedP50Ms: number;
    addedP99Ms: number;
    gatewayCpuMsPerRequest: number;
  };
  login?: LoadResult;
  statsMarkets?: LoadResult;
  adminStats?: LoadResult;
  ledgerVerify?: { ok?: boolean };
  processes?: string[];
  /** Set when the load generator could not raise its priority while sending. */
  generatorPriorityNote?: string;
  /** Lines the services logged at level error during the run. */
  serviceErrorLines?: number;
}

type Verdict = '✓' | '✗' | 'invalid' | 'not run';
const mark = (ok: boolean): Verdict => (ok ? '✓' : '✗');
const pct = (share: number) => `${Math.round(share * 1000) / 10} %`;
const byProcess = (values: Record<string, number>) =>
  Object.entries(values)
    .map(([label, v]) => `${label} ${v}`)
    .join(', ');

/** "300/s = 15 % of bare gateway 2000/s", or the rate alone when the bare gateway was not measured. */
function ofBare(results: Results, perS: number): string {
  const ceiling = results.bareGateway?.ceilingPerS;
  return ceiling ? `${perS}/s = ${pct(perS / ceiling)} of bare gateway ${ceiling}/s` : `${perS}/s`;
}

function errorsText(r: LoadResult): string {
  const others = Object.entries(r.byStatus).filter(([status]) => !/^2\d\d$/.test(status) && status !== '503');
  const list = others.map(([status, n]) => `${n}×${status}`).join(' ');
  return `${r.errors - r.unavailable503} errors${list ? ` (${list})` : ''}, ${r.unavailable503}×503`;
}

function stepVerdict(step: Step | undefined, ok: (s: Step) => boolean): Verdict {
  if (!step) return 'not run';
  if (!step.orders.valid) return 'invalid';
  return mark(ok(step));
}

/** The step the 300/s targets are judged on, and a note when it ran shorter than the target asks. */
function targetStep(results: Results): { step?: Step; note: string } {
  const step = results.ladder.find((s) => s.rate === TARGET_RATE_PER_S);
  if (!step) return { note: ` (no ${TARGET_RATE_PER_S}/s step ran)` };
  return {
    step,
    note: step.durationS < TARGET_STEP_S ? ` (a ${step.durationS} s step; the target asks ${TARGET_STEP_S} s)` : '',
  };
}

function targetRows(results: Results): string[] {
  const row = (what: string, value: string, target: string, verdict: Verdict) =>
    `| ${what} | ${value} | ${target} | ${verdict} |`;
  const lat = (r?: LoadResult) =>
    r ? `p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, ${errorsText(r)} of ${r.scheduled}` : 'skipped';
  const { step: t, note } = targetStep(results);
  const bare = results.bareGateway;
  const sat = results.saturation;
  const single = results.singleMarket;
  const over = results.overload;
  const allSteps = [...results.ladder, single, over].filter((s): s is Step => s !== undefined);
  const rss: Record<string, number> = {};
  for (const s of allSteps)
    for (const [label, mb] of Object.entries(s.rssMbMax)) rss[label] = Math.max(rss[label] ?? 0, mb);
  const rssMax = Math.max(0, ...Object.values(rss));
  return [
    row(
      `${MARKETS_LABEL(t)} at ${TARGET_RATE_PER_S}/s for ${TARGET_STEP_S} s${note}`,
      t
        ? `p99 ${t.orders.latencyMs.p99} ms, ${errorsText(t.orders)}; ${ofBare(results, t.orders.goodputPerS)}`
        : 'not run',
      `p99 ≤ ${ORDER_P99_MAX_MS} ms, 0 errors`,
      stepVerdict(t, (s) => s.orders.latencyMs.p99 <= ORDER_P99_MAX_MS && s.orders.errors === 0),
    ),
    row(
      `… book read (\`GET /api/v1/orderbook\`) beside it`,
      t ? `p99 ${t.bookReads.latencyMs.p99} ms, ${errorsText(t.bookReads)}` : 'not run',
      `p99 ≤ ${BOOK_P99_MAX_MS} ms`,
      stepVerdict(t, (s) => s.bookReads.latencyMs.p99 <= BOOK_P99_MAX_MS),
    ),
    row(
      '… match → trade with escrow locked (commit timestamps)',
      t
        ? `p99 ${t.matchToEscrow.latencyMs.p99} ms (${t.matchToEscrow.withTrade} of ${t.matchToEscrow.matches} matches have their trade)`
        : 'not run',
      `p99 ≤ ${MATCH_TO_ESCROW_P99_MAX_MS} ms`,
      stepVerdict(
        t,
        (s) =>
          s.matchToEscrow.latencyMs.p99 <= MATCH_TO_ESCROW_P99_MAX_MS &&
          s.matchToEscrow.withTrade === s.matchToEscrow.matches,
      ),
    ),
    row(
      `… stack CPU per order (every process but the load generator, backlog included)`,
      t ? `${t.cpuMsPerOrder.stackWithBacklog} ms (${byProcess(t.cpuMsPerOrder.withBacklog)})` : 'not run',
      `≤ ${STACK_CPU_PER_ORDER_MAX_MS} ms`,
      stepVerdict(t, (s) => s.cpuMsPerOrder.stackWithBacklog <= STACK_CPU_PER_ORDER_MAX_MS),
    ),
    row(
      'saturation goodput (best valid step of the ladder)',
      sat ? `${ofBare(results, sat.goodputPerS)} (offered ${sat.atRate}/s)` : 'no valid step',
      `≥ ${pct(SATURATION_SHARE_MIN)} of the bare gateway`,
      sat && bare?.ceilingPerS ? saturationVerdict(sat.goodputPerS, bare) : 'not run',
    ),
    row(
      `one market alone at ${results.config.singleRatePerS}/s`,
      single
        ? `p99 ${single.orders.latencyMs.p99} ms, ${errorsText(single.orders)}; ${ofBare(results, single.orders.goodputPerS)}`
        : 'not run',
      `at ${SINGLE_MARKET_RATE_PER_S}/s: p99 ≤ ${ORDER_P99_MAX_MS} ms`,
      stepVerdict(single, (s) => s.orders.latencyMs.p99 <= ORDER_P99_MAX_MS),
    ),
    row(
      `overload: 2 × saturation (${over?.rate ?? '—'}/s offered): goodput`,
      over && sat
        ? `${ofBare(results, over.orders.goodputPerS)}, ${pct(over.orders.goodputPerS / sat.goodputPerS)} of saturation; ${errorsText(over.orders)}`
        : 'not run',
      `≥ ${pct(OVERLOAD_GOODPUT_SHARE_MIN)} of saturation`,
      stepVerdict(over, (s) => s.orders.goodputPerS >= OVERLOAD_GOODPUT_SHARE_MIN * (sat?.goodputPerS ?? Infinity)),
    ),
    row(
      '… accepted (2xx) orders under that overload',
      over ? `p99 ${over.orders.acceptedLatencyMs.p99} ms (${over.orders.ok} accepted)` : 'not run',
      `p99 ≤ ${OVERLOAD_ACCEPTED_P99_MAX_MS} ms`,
      stepVerdict(over, (s) => s.orders.acceptedLatencyMs.p99 <= OVERLOAD_ACCEPTED_P99_MAX_MS),
    ),
    row(
      'RSS per process, most under order load (MB)',
      allSteps.length ? byProcess(rss) : 'not run',
      `≤ ${RSS_MAX_MB} MB each`,
      allSteps.length ? mark(rssMax <= RSS_MAX_MB) : 'not run',
    ),
    row(
      'token check added by the gateway (same book read direct, and through it with an access token, 500/s each, at once)',
      results.gatewayCost
        ? `+${results.gatewayCost.addedP50Ms} ms p50, +${results.gatewayCost.addedP99Ms} ms p99, ${results.gatewayCost.gatewayCpuMsPerRequest} ms gateway CPU per request`
        : 'skipped',
      `p99 ≤ ${TOKEN_CHECK_P99_MAX_MS} ms`,
      results.gatewayCost ? mark(results.gatewayCost.addedP99Ms <= TOKEN_CHECK_P99_MAX_MS) : 'not run',
    ),
    row(
      'login (40/s, password hashing included)',
      lat(results.login),
      `p99 ≤ ${LOGIN_P99_MAX_MS} ms`,
      results.login ? mark(results.login.latencyMs.p99 <= LOGIN_P99_MAX_MS && results.login.errors === 0) : 'not run',
    ),
    row(
      `client connections held at the gateway (orders at 100/s beside)`,
      results.connections
        ? `${results.connections.stillOpen}/${results.connections.held} open, ${results.connections.failed} failed, gateway RSS ${results.connections.gatewayRssMb} MB, orders p99 ${results.connections.orders.latencyMs.p99} ms`
        : 'skipped',
      `all open, RSS ≤ ${RSS_MAX_MB} MB`,
      results.connections
        ? mark(
            results.connections.stillOpen === results.connections.held &&
              results.connections.gatewayRssMb <= RSS_MAX_MB,
          )
        : 'not run',
    ),
    row(
      '`GET /stats/markets` over 100,000 past trades',
      lat(results.statsMarkets),
      `p99 ≤ ${STATS_P99_MAX_MS} ms`,
      results.statsMarkets ? mark(results.statsMarkets.latencyMs.p99 <= STATS_P99_MAX_MS) : 'not run',
    ),
    row(
      '`GET /admin/stats` over them',
      lat(results.adminStats),
      `p99 ≤ ${STATS_P99_MAX_MS} ms`,
      results.adminStats ? mark(results.adminStats.latencyMs.p99 <= STATS_P99_MAX_MS) : 'not run',
    ),
    row(
      'Postgres connections of the stack (most at once)',
      String(Math.max(0, ...allSteps.map((s) => s.pgConnectionsMax))),
      `well under max_connections (${results.environment.postgres.max_connections})`,
      allSteps.length
        ? mark(
            Math.max(...allSteps.map((s) => s.pgConnectionsMax)) <
              Number(results.environment.postgres.max_connections) / 2,
          )
        : 'not run',
    ),
    row(
      'ledger verifies after the run',
      String(results.ledgerVerify?.ok),
      'true',
      mark(results.ledgerVerify?.ok === true),
    ),
  ];
}

const MARKETS_LABEL = (step: Step | undefined) => (step ? `${step.markets} markets` : 'multi-market');

function stepRows(results: Results): string[] {
  const steps = [...results.ladder, results.singleMarket, results.overload].filter((s): s is Step => s !== undefined);
  const header = [
    '| step | valid | goodput | p50 / p99 / p99.9 ms (accepted p99) | errors | book p99 ms | match → escrow p99 ms | stack CPU ms / order | backlog s | pg statements / commits | Redis commands | queue jobs | HTTP requests | send late p99 ms |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  return [
    ...header,
    ...steps.map((s) => {
      const o = s.orders;
      const p = s.perOrder;
      return (
        `| ${s.name} | ${o.valid ? 'yes' : `INVALID: ${o.invalidReason}`} | ${ofBare(results, o.goodputPerS)} | ${o.latencyMs.p50} / ${o.latencyMs.p99} / ${o.latencyMs.p999} (${o.acceptedLatencyMs.p99}) | ${errorsText(o)} ` +
        `| ${s.bookReads.latencyMs.p99} | ${s.matchToEscrow.latencyMs.p99} (${s.matchToEscrow.withTrade}/${s.matchToEscrow.matches}) | ${s.cpuMsPerOrder.stackWithBacklog} | ${s.backlogS} ` +
        `| ${p ? `${p.pgStatements ?? '—'} / ${p.pgCommits}` : '—'} | ${p?.redisCommands ?? '—'} | ${p?.queueJobs ?? '—'} | ${p?.httpRequests ?? '—'} | ${o.sendLateMs.p99} |`
      );
    }),
  ];
}

function cpuRows(results: Results): string[] {
  const steps = [...results.ladder, results.singleMarket, results.overload].filter((s): s is Step => s !== undefined);
  return [
    '| step | CPU ms per accepted order in the window, by process | … with the backlog until quiet | write syscalls per order in the window |',
    '| --- | --- | --- | --- |',
    ...steps.map(
      (s) =>
        `| ${s.name} | ${byProcess(s.cpuMsPerOrder.window)} | ${byProcess(s.cpuMsPerOrder.withBacklog)} | ${byProcess(s.writesPerOrder)} |`,
    ),
  ];
}

/** The bare gateway's ceiling is only a floor when its ladder stopped before the proxy did. */
function ceilingIsFloor(bare: BareGateway): boolean {
  return bare.stoppedBy === 'generator' || bare.stoppedBy === 'last rate';
}

/**
 * Saturation against the bare gateway's ceiling. Below a ceiling that is only a floor it is below the real one too;
 * above it, nothing is known (the real ceiling may be higher), so the target cannot be judged by this run.
 */
function saturationVerdict(goodputPerS: number, bare: BareGateway): Verdict {
  const met = goodputPerS >= SATURATION_SHARE_MIN * bare.ceilingPerS;
  return met && ceilingIsFloor(bare) ? 'invalid' : mark(met);
}

function bareLine(results: Results): string {
  const bare = results.bareGateway;
  if (!bare) return 'Bare gateway: skipped (throughput is not judged against it).';
  const steps = bare.steps
    .map(
      (s) =>
        `${s.rate}/s → p99 ${s.latencyMs.p99} ms${s.errors ? `, ${s.errors} errors` : ''}${s.valid ? '' : ' INVALID'}`,
    )
    .join('; ');
  const atCeiling = bare.steps.find((s) => s.rate === bare.ceilingPerS);
  const cpu = atCeiling ? `; CPU ms per request at the ceiling: ${byProcess(atCeiling.cpuMsPerRequest)}` : '';
  const floor = ceilingIsFloor(bare) ? ' (at least: the ladder stopped before the proxy did)' : '';
  return `Bare gateway (express + http-proxy-middleware, keep-alive, in front of an empty handler; the same orders): ceiling **${bare.ceilingPerS}/s**${floor}, stopped by ${bare.stoppedBy} (${steps})${cpu}.`;
}

/** Older results have no calibration. */
function calibrationText(e: Environment): string {
  const c = e.calibrationMs as Environment['calibrationMs'] | undefined;
  if (!c) return 'not measured';
  return c.end === undefined ? `${c.start} ms at the start` : `${c.start} ms at the start, ${c.end} ms at the end`;
}

export function renderReport(results: Results): string {
  const e = results.environment;
  const pgs = e.postgres;
  return [
    `# Benchmark ${results.startedAt}`,
    '',
    `Environment: ${e.cores} cores (${e.cpuModel}), load average at start ${e.loadAverageAtStart.join(' / ')}, node ${e.node}, ` +
      `Postgres ${pgs.version} (shared_buffers ${pgs.shared_buffers}, synchronous_commit ${pgs.synchronous_commit}, max_connections ${pgs.max_connections}, autovacuum ${pgs.autovacuum}, fsync ${pgs.fsync}; pg_stat_statements ${e.pgStatStatements ? 'loaded' : 'not loaded'}), ` +
      `Redis ${e.redis.version} (${e.redis.private ? "the bench's own" : 'shared'}). ` +
      `Machine speed (CPU ms of a fixed piece of work, lower is faster; compare runs after dividing by it): ${calibrationText(e)}.`,
    `Steps of ${results.config.stepS} s, book reads at ${results.config.readRatePerS}/s beside, markets ${(results.config.markets as string[]).join(', ')}, a pair's orders ${results.config.pairs === 'apart' ? 'apart (BENCH_PAIRS=apart)' : 'adjacent'}; ` +
      `the services logged ${results.serviceErrorLines ?? 0} error lines${results.generatorPriorityNote ? `; ${results.generatorPriorityNote}` : ''}.`,
    '',
    bareLine(results),
    '',
    '| target | measured | goal | met |',
    '| --- | --- | --- | --- |',
    ...targetRows(results),
    '',
    '## Steps',
    '',
    "Per accepted order: statements, commits, Redis commands, queue jobs (events consumed) and HTTP requests served by the stack (the client's own and every hop behind it), over the window and the backlog it left.",
    '',
    ...stepRows(results),
    '',
    ...cpuRows(results),
    '',
  ].join('\n');
}
