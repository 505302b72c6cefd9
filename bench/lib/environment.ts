import { createHmac } from 'node:crypto';
import os from 'node:os';
import type pg from 'pg';
import type { Redis } from 'ioredis';

/** The Postgres settings that move the numbers most, printed with every result. */
const PG_SETTINGS = [
  'shared_buffers',
  'synchronous_commit',
  'max_connections',
  'autovacuum',
  'fsync',
  'shared_preload_libraries',
] as const;

export interface Environment {
  cores: number;
  cpuModel: string;
  /** 1-, 5- and 15-minute load averages when the run started: other work on a shared machine shows here. */
  loadAverageAtStart: number[];
  node: string;
  postgres: { version: string } & Record<(typeof PG_SETTINGS)[number], string>;
  redis: { version: string; private: boolean };
  pgStatStatements: boolean;
  /** CPU ms of the fixed work of `calibrate` when the run started, and when it finished (see there). */
  calibrationMs: { start: number; end?: number };
}

/**
 * The CPU time (ms) one core of this machine takes for a fixed piece of the work an order causes (signing, JSON,
 * string handling), the best of three. These machines' speed moves from day to day and within a run (the same
 * code's CPU per order has moved 3x between days), so every result carries this figure, taken at its start and end:
 * runs are compared after dividing by it, or not at all.
 */
export function calibrate(): number {
  const order = { side: 'SELL', asset: 'BTC', fiatCurrency: 'EUR', price: '50000.00', amount: '0.01000000' };
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 3; round++) {
    const before = process.cpuUsage();
    let sink = 0;
    for (let i = 0; i < 20_000; i++) {
      const body = JSON.stringify({ ...order, key: `k-${i}` });
      sink += createHmac('sha256', 'calibration').update(body).digest('base64url').length;
      sink += (JSON.parse(body) as { key: string }).key.length;
    }
    const used = process.cpuUsage(before);
    if (sink === 0) throw new Error('unreachable');
    best = Math.min(best, (used.user + used.system) / 1000);
  }
  return Math.round(best * 10) / 10;
}

export async function readEnvironment(admin: pg.Client, redis: Redis, redisPrivate: boolean): Promise<Environment> {
  const { rows } = await admin.query<{ name: string; setting: string }>(
    `SELECT name, current_setting(name) AS setting FROM unnest($1::text[]) AS name UNION ALL SELECT 'version', current_setting('server_version')`,
    [PG_SETTINGS],
  );
  const settings = Object.fromEntries(rows.map((r) => [r.name, r.setting]));
  const info = await redis.info('server');
  return {
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    loadAverageAtStart: os.loadavg().map((n) => Math.round(n * 100) / 100),
    node: process.version,
    postgres: settings as Environment['postgres'],
    redis: { version: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown', private: redisPrivate },
    pgStatStatements: /\bpg_stat_statements\b/.test(settings.shared_preload_libraries ?? ''),
    calibrationMs: { start: calibrate() },
  };
}
