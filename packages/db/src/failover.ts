import pg from 'pg';
import type { HostPort } from '@orrange/config';

/** SQLSTATE cannot_connect_now: a connection error to the retry loops, which then try the next host. */
const NOT_THE_PRIMARY = '57P03';

/**
 * A pg Client class for a primary pool whose URL lists several hosts (libpq's target_session_attrs=read-write,
 * which node-postgres lacks): each new connection goes to the host the last good one went to; one that cannot
 * connect, or finds a server in recovery (a standby), moves every later connection to the next host and fails
 * as a connection error, which the pool manager's retries answer with a connection to that next host.
 *
 * That is the whole of failover here: promoting a standby is the operator's (or an orchestrator's) act, and once
 * it is done the next connections find the new primary by themselves. The check costs one statement per new
 * connection, none per query.
 */
export function writableHostClient(hosts: HostPort[]): typeof pg.Client {
  let current = 0;
  const moveOnFrom = (index: number) => {
    if (current === index) current = (index + 1) % hosts.length;
  };
  return class WritableHostClient extends pg.Client {
    private readonly hostIndex: number;

    constructor(config?: pg.ClientConfig) {
      const index = current;
      super({ ...config, ...hosts[index] });
      this.hostIndex = index;
    }

    // The pool calls connect(callback); everyone else awaits connect().
    override connect(): Promise<pg.Client>;
    override connect(callback: (err: Error) => void): void;
    // biome-ignore lint/suspicious/noConfusingVoidType: the implementation of the two overloads above, as pg.Pool declares them.
    override connect(callback?: (err: Error) => void): Promise<pg.Client> | void {
      const attempt = this.connectToPrimary().then(() => this);
      if (!callback) return attempt;
      // pg calls back with no error on success.
      attempt.then(() => (callback as (err?: Error) => void)(), callback);
    }

    private async connectToPrimary(): Promise<void> {
      try {
        await super.connect();
      } catch (error) {
        moveOnFrom(this.hostIndex);
        throw error;
      }
      try {
        const { rows } = await this.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby');
        if (!rows[0]!.standby) return;
        const { host, port } = hosts[this.hostIndex]!;
        throw Object.assign(new Error(`${host}:${port} is a standby (read-only), not the primary`), {
          code: NOT_THE_PRIMARY,
        });
      } catch (error) {
        moveOnFrom(this.hostIndex);
        await this.end().catch(() => undefined);
        throw error;
      }
    }
  };
}
