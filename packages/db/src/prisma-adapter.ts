import type pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import type { Database, Row, SqlRunner, TransactionOptions } from './database';

/**
 * A transaction of a service's generated Prisma client: `client` for its models, and the SqlRunner face through
 * which shared SQL (packages/queue's outbox and inbox statements) runs on the same connection, in the same
 * transaction. Rows of that SQL come back as Prisma reads them (numeric as Decimal, bigint as BigInt).
 */
export interface PrismaTx<TxClient> extends SqlRunner {
  readonly client: TxClient;
  /** As Tx.afterCommit: runs once the transaction committed, never for an attempt that rolled back or is retried. */
  afterCommit(effect: () => void): void;
}

const PRISMA_ISOLATION = {
  'READ COMMITTED': 'ReadCommitted',
  'REPEATABLE READ': 'RepeatableRead',
  SERIALIZABLE: 'Serializable',
} as const;

/** What PrismaDatabase uses of a generated client (each service generates its own class). */
export interface GeneratedPrismaClient<TxClient> {
  $transaction<T>(
    body: (client: TxClient) => Promise<T>,
    options: {
      isolationLevel?: (typeof PRISMA_ISOLATION)[keyof typeof PRISMA_ISOLATION];
      maxWait: number;
      timeout: number;
    },
  ): Promise<T>;
  $on(event: 'query', listener: (event: { query: string; duration: number }) => void): unknown;
  $disconnect(): Promise<void>;
}

/** What PrismaDatabase uses of the client a generated client hands its transactions. */
export interface GeneratedTxClient {
  $queryRawUnsafe<T = unknown>(sql: string, ...values: unknown[]): Promise<T>;
}

/** A generated PrismaClient class, constructed over a driver adapter and reporting each statement it sends. */
export type GeneratedPrismaClass<Client> = new (options: {
  adapter: PrismaPg;
  log: [{ emit: 'event'; level: 'query' }];
}) => Client;

/**
 * How long a Prisma transaction may hold its connection before Prisma rolls it back. Prisma's default (5 s) equals
 * the default DB_STATEMENT_TIMEOUT_MS, so one slow statement would be cut from outside instead of failing in Postgres
 * with its own error; each statement stays bounded by the statement timeout.
 */
const TRANSACTION_TIMEOUT_MS = 30_000;
/**
 * Added to the pool's own wait for a connection (connectionTimeoutMillis) to make Prisma's: a pool with no connection
 * to give then fails as pg does (a connection error: retried, and answered 503), not with Prisma's "unable to start
 * a transaction in the given time".
 */
const CONNECT_WAIT_MARGIN_MS = 1_000;

/**
 * A service's generated Prisma client over its Database's pools, with the Database's rules.
 *
 * Why over the pools (Prisma 6.19.3's driver adapters, `engineType = "client"`, @prisma/adapter-pg given the pg.Pool)
 * and not a datasource URL of its own: the client then connects as the service's role with its pool limits,
 * statement timeout, search_path and TLS (pool-config.ts) without a second copy of them, counts against the same
 * `DB_POOL_MAX` and pool metrics, is watched by the same health monitor, reads from the replicas the Database
 * measures, and retries as the Database does (lost connections, and 40001/40P01 where the caller says the work may
 * run again), with effects after commit and the slow-query log for its statements.
 */
export class PrismaDatabase<
  Client extends GeneratedPrismaClient<TxClient> & TxClient,
  TxClient extends GeneratedTxClient,
> {
  /** One client per pool (the primary's, and each replica's that served a lag-tolerant read). */
  private readonly clients = new Map<pg.Pool, Client>();

  constructor(
    private readonly db: Database,
    private readonly PrismaClient: GeneratedPrismaClass<Client>,
  ) {}

  /** Reads on the primary, retried after a lost connection as Database.query is: for reads that must be current. */
  query<T>(work: (client: TxClient) => Promise<T>): Promise<T> {
    return this.db.onPrimary(() => work(this.clientOn(this.db.primary)));
  }

  /** Reads that tolerate a replica's lag, where Database.queryRead would send them. Never inside a transaction. */
  queryRead<T>(work: (client: TxClient) => Promise<T>): Promise<T> {
    return this.db.onReadPool((pool) => work(this.clientOn(pool)));
  }

  /** Runs `body` in a Prisma transaction on the primary, retried as Database.transaction is (see its rules). */
  transaction<T>(body: (tx: PrismaTx<TxClient>) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const maxWait = (this.db.primary.options.connectionTimeoutMillis ?? 0) + CONNECT_WAIT_MARGIN_MS;
    const isolationLevel = options.isolation && PRISMA_ISOLATION[options.isolation];
    return this.db.retryingTransaction(
      (attempt) =>
        this.clientOn(this.db.primary).$transaction(
          async (client) => {
            const result = await body({
              client,
              query: <R = Row>(sql: string, params: unknown[] = []) => client.$queryRawUnsafe<R[]>(sql, ...params),
              afterCommit: attempt.afterCommit,
            });
            // Prisma sends COMMIT once this returns.
            attempt.committing();
            return result;
          },
          { isolationLevel, maxWait, timeout: TRANSACTION_TIMEOUT_MS },
        ),
      options,
    );
  }

  /** Lets the clients go; the pools are the Database's, which closes them. */
  async close(): Promise<void> {
    const clients = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(clients.map((client) => client.$disconnect()));
  }

  private clientOn(pool: pg.Pool): Client {
    let client = this.clients.get(pool);
    if (!client) {
      client = new this.PrismaClient({
        adapter: new PrismaPg(pool, { schema: this.db.schema }),
        log: [{ emit: 'event', level: 'query' }],
      });
      client.$on('query', (event) => this.db.recordQuery(event.query, event.duration));
      this.clients.set(pool, client);
    }
    return client;
  }
}
