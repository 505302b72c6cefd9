import { PrismaDatabase, type Database, type PrismaTx } from '@orrange/db';
import { PrismaClient, type Prisma } from '../generated/prisma/client';

/** The service's models through its generated client, over the runtime's pools and rules (see PrismaDatabase). */
export type DisputeDatabase = PrismaDatabase<PrismaClient<'query'>, Prisma.TransactionClient>;
/** A transaction of it: what the repository's writes, and the outbox written beside them, take. */
export type DisputeTx = PrismaTx<Prisma.TransactionClient>;
/** What a read takes: the client of the primary, of a replica, or of a transaction. */
export type DisputeClient = Prisma.TransactionClient;

export function createDisputeDatabase(db: Database): DisputeDatabase {
  return new PrismaDatabase(db, PrismaClient);
}
