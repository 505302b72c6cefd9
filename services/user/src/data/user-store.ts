import type { Database, PrismaAccess } from '@orrange/db';
import { type Prisma, PrismaClient } from '../generated/prisma/client';

/**
 * The user service's data access: its generated Prisma client over the runtime's pools (Database.prisma), so it
 * connects as the service's role with the service's pool limits, statement timeout and TLS, and reads that tolerate
 * lag reach the replicas. `run` for statements outside a transaction, `read` for lag-tolerant reads, `transaction`
 * (or asActingUser) for the rest.
 */
export type UserStore = PrismaAccess<PrismaClient>;

/** What a repository function runs on: the client, or an interactive transaction's. */
export type Db = Prisma.TransactionClient;

export function createUserStore(db: Database): UserStore {
  return db.prisma(PrismaClient);
}
