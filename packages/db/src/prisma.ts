import type pg from 'pg';
import type { PrismaPg } from '@prisma/adapter-pg';
import type { TransactionOptions } from './database';
import { isConnectionError, isTransactionConflict } from './retry';

/** The options a service's generated Prisma client is built with here: over one of the pool manager's pools. */
export interface PrismaClientOptions {
  adapter: PrismaPg;
  log: Array<{ emit: 'event'; level: 'query' }>;
}

/** Prisma's interactive-transaction options, as far as this package sets them. */
interface PrismaTransactionOptions {
  maxWait?: number;
  timeout?: number;
  isolationLevel?: 'ReadCommitted' | 'RepeatableRead' | 'Serializable';
}

/** What this package needs of a generated Prisma client (`prisma-client` generator, driver adapters). */
export interface PrismaClientLike {
  $transaction<R>(body: (tx: unknown) => Promise<R>, options?: PrismaTransactionOptions): Promise<R>;
}

/** The client an interactive transaction's body gets (the generated `Prisma.TransactionClient`). */
export type PrismaTx<C> = C extends {
  $transaction<R>(body: (tx: infer T) => Promise<R>, options?: PrismaTransactionOptions): Promise<R>;
}
  ? T
  : never;

/** The pool manager's side of the clients (implemented by Database; see Database.prisma). */
export interface PrismaHost<C> {
  readonly primary: pg.Pool;
  /** The client over `pool`, built once per pool. */
  clientOver(pool: pg.Pool): C;
  onPrimary<T>(work: () => Promise<T>, shouldRetry: (error: unknown) => boolean): Promise<T>;
  readFrom<T>(work: (pool: pg.Pool) => Promise<T>): Promise<T>;
  readonly transactionLimits: { maxWait: number; timeout: number };
}

const ISOLATION: Record<NonNullable<TransactionOptions['isolation']>, PrismaTransactionOptions['isolationLevel']> = {
  'READ COMMITTED': 'ReadCommitted',
  'REPEATABLE READ': 'RepeatableRead',
  SERIALIZABLE: 'Serializable',
};

/**
 * A service's generated Prisma client over the pool manager's pools, so that Prisma's statements share what the
 * service's SQL has: its role, pool sizes and timeouts, statement timeout, TLS, search_path, failover across the
 * primary's hosts, the health monitor, the pool and query metrics and the slow-query log. The three ways in keep
 * the promises `query`, `queryRead` and `transaction` of Database make.
 */
export class PrismaAccess<C extends PrismaClientLike> {
  constructor(private readonly host: PrismaHost<C>) {}

  /**
   * Statements on the primary outside a transaction, retried on a lost connection (like Database.query): only for
   * reads and writes that may safely run twice.
   */
  run<T>(work: (client: C) => Promise<T>): Promise<T> {
    return this.host.onPrimary(() => work(this.host.clientOver(this.host.primary)), isConnectionError);
  }

  /**
   * A read that tolerates a replica's lag, on the client over the pool Database.queryRead would pick (a fresh
   * replica, else the primary, else any replica that answers), handed to the primary when its replica fails.
   */
  read<T>(work: (client: C) => Promise<T>): Promise<T> {
    return this.host.readFrom((pool) => work(this.host.clientOver(pool)));
  }

  /**
   * An interactive transaction on the primary, retried as Database.transaction retries: always when the
   * connection was lost while the body ran (COMMIT was not sent, the server rolled back), never once the body is
   * done (COMMIT may have reached the server), and on 40001/40P01 when `retryable` says the body may run again.
   */
  transaction<T>(body: (tx: PrismaTx<C>) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    let bodyDone = false;
    const client = this.host.clientOver(this.host.primary);
    return this.host.onPrimary(
      () => {
        bodyDone = false;
        return client.$transaction(
          async (tx) => {
            const result = await body(tx as PrismaTx<C>);
            bodyDone = true;
            return result;
          },
          {
            ...this.host.transactionLimits,
            isolationLevel: options.isolation ? ISOLATION[options.isolation] : undefined,
          },
        );
      },
      (error) =>
        (options.retryable === true && isTransactionConflict(error)) || (!bodyDone && isConnectionError(error)),
    );
  }
}
