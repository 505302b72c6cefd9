import { PrismaDatabase, type Database, type PrismaTx } from '@orrange/db';
import { PrismaClient, type Prisma } from '../generated/prisma/client';

/**
 * The service's models through its generated client, over the runtime's pools and rules (see PrismaDatabase): `query`
 * for statements outside a transaction, `queryRead` for lag-tolerant reads, `transaction` (or asActingUser) for the rest.
 */
export type UserDatabase = PrismaDatabase<PrismaClient<'query'>, Prisma.TransactionClient>;
/** A transaction of it: `client` for the models, `query` for the shared SQL written beside them (the consumer's inbox). */
export type UserTx = PrismaTx<Prisma.TransactionClient>;
/** What a repository function runs on: the client of the primary, of a replica, or of a transaction. */
export type UserClient = Prisma.TransactionClient;

export function createUserDatabase(db: Database): UserDatabase {
  return new PrismaDatabase(db, PrismaClient);
}
