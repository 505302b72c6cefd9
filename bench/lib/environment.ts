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
  };
}
