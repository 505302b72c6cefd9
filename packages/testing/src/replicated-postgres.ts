import { execFile, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './free-port';

const run = promisify(execFile);

/** PostgreSQL's server programs (initdb, pg_ctl, pg_basebackup): PG_BIN, else Debian's place for the installed major. */
function serverBin(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root)
    ? spawnSync('ls', [root], { encoding: 'utf8' })
        .stdout.split('\n')
        .filter((v) => /^\d+$/.test(v))
    : [];
  const newest = majors.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest)
    throw new Error('PostgreSQL server programs not found: set PG_BIN (the folder holding initdb and pg_ctl)');
  return path.join(root, newest, 'bin');
}

/** initdb refuses to run as root: as root, the servers run as the `postgres` account, which owns their folder. */
const AS_ROOT = process.getuid?.() === 0;

/**
 * A throw-away primary and a streaming replica of it (`pg_basebackup -R`), each on a free loopback port, in a
 * temporary folder: for tests of replica reads, lag, a primary going down and a promotion. The machine's own
 * PostgreSQL is never touched. `cleanup` stops both and deletes the folder, and so does the process's exit if a
 * test never got to call it.
 */
export class ReplicatedPostgres {
  private stopped = false;

  private constructor(
    private readonly dir: string,
    readonly primaryPort: number,
    readonly replicaPort: number,
    private readonly bin: string,
  ) {}

  /** initdb, a primary with wal_level=replica, a base backup of it and the replica started: about 3-5 s. */
  static async start(): Promise<ReplicatedPostgres> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'orrange-replicated-'));
    const cluster = new ReplicatedPostgres(dir, await freePort(), await freePort(), serverBin());
    process.once('exit', () => cluster.stopNow());
    try {
      if (AS_ROOT) chownSync(dir, Number(await cluster.idOf('-u')), Number(await cluster.idOf('-g')));
      await cluster.server('initdb', [
        '-D',
        cluster.dataDir('primary'),
        '-U',
        'postgres',
        '--auth=trust',
        '-E',
        'UTF8',
        '--no-sync',
      ]);
      writeFileSync(
        path.join(cluster.dataDir('primary'), 'postgresql.auto.conf'),
        [
          'wal_level = replica',
          'max_wal_senders = 4',
          'fsync = off',
          'synchronous_commit = off',
          'full_page_writes = off',
          "listen_addresses = '127.0.0.1'",
          `unix_socket_directories = '${dir}'`,
        ].join('\n') + '\n',
      );
      if (AS_ROOT) await cluster.chownToPostgres(path.join(cluster.dataDir('primary'), 'postgresql.auto.conf'));
      await cluster.pgCtl('primary', 'start');
      await cluster.server('pg_basebackup', [
        '-h',
        '127.0.0.1',
        '-p',
        String(cluster.primaryPort),
        '-U',
        'postgres',
        '-D',
        cluster.dataDir('replica'),
        '-R',
        '-X',
        'stream',
        '--no-sync',
      ]);
      await cluster.pgCtl('replica', 'start');
      return cluster;
    } catch (error) {
      await cluster.cleanup();
      throw error;
    }
  }

  url(server: 'primary' | 'replica', database = 'postgres'): string {
    return `postgresql://postgres@127.0.0.1:${server === 'primary' ? this.primaryPort : this.replicaPort}/${database}`;
  }

  /** One statement on a server's `postgres` database (or `database`), on a connection of its own. */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    server: 'primary' | 'replica',
    sql: string,
    params: unknown[] = [],
    database = 'postgres',
  ): Promise<R[]> {
    const client = new pg.Client({ connectionString: this.url(server, database), connectionTimeoutMillis: 3_000 });
    await client.connect();
    try {
      return (await client.query<R>(sql, params)).rows;
    } finally {
      await client.end();
    }
  }

  /** The replica keeps receiving WAL but applies none of it: it falls behind. */
  async pauseReplay(): Promise<void> {
    await this.query('replica', 'SELECT pg_wal_replay_pause()');
  }

  async resumeReplay(): Promise<void> {
    await this.query('replica', 'SELECT pg_wal_replay_resume()');
  }

  /** The primary shut down (fast: its connections are cut). */
  async stopPrimary(): Promise<void> {
    await this.pgCtl('primary', 'stop', ['-m', 'fast']);
  }

  /** The replica becomes a primary (out of recovery, accepting writes). */
  async promoteReplica(): Promise<void> {
    await this.pgCtl('replica', 'promote');
  }

  async cleanup(): Promise<void> {
    this.stopNow();
  }

  /** Synchronous, so that it also works from the process's 'exit'. */
  private stopNow(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const server of ['primary', 'replica'] as const) {
      if (existsSync(path.join(this.dataDir(server), 'postmaster.pid')))
        spawnSync(
          ...this.command(path.join(this.bin, 'pg_ctl'), ['-D', this.dataDir(server), '-m', 'immediate', 'stop']),
          { stdio: 'ignore' },
        );
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private dataDir(server: 'primary' | 'replica'): string {
    return path.join(this.dir, server);
  }

  private async pgCtl(server: 'primary' | 'replica', action: string, extra: string[] = []): Promise<void> {
    const port = server === 'primary' ? this.primaryPort : this.replicaPort;
    await this.server('pg_ctl', [
      '-D',
      this.dataDir(server),
      '-l',
      path.join(this.dir, `${server}.log`),
      '-o',
      `-p ${port}`,
      '-w',
      '-t',
      '30',
      ...extra,
      action,
    ]);
  }

  private async server(program: string, args: string[]): Promise<void> {
    const [file, argv] = this.command(path.join(this.bin, program), args);
    try {
      await run(file, argv, { cwd: this.dir, timeout: 60_000 });
    } catch (error) {
      const { stderr, stdout } = error as { stderr?: string; stdout?: string };
      throw new Error(`${program} ${args.join(' ')} failed: ${stderr || stdout || (error as Error).message}`);
    }
  }

  private command(file: string, args: string[]): [string, string[]] {
    return AS_ROOT ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args];
  }

  private async idOf(flag: '-u' | '-g'): Promise<string> {
    return (await run('id', [flag, 'postgres'])).stdout.trim();
  }

  private async chownToPostgres(file: string): Promise<void> {
    chownSync(file, Number(await this.idOf('-u')), Number(await this.idOf('-g')));
  }
}
