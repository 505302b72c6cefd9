import { Prisma } from '../generated/prisma/client';

/**
 * The columns of the unique index a Prisma write violated (from the `Key (email)=…` detail Postgres gives with
 * 23505, as @prisma/adapter-pg reads it), or undefined when the error is not a unique violation.
 */
export function uniqueViolation(error: unknown): string[] | undefined {
  if (!(error instanceof Prisma.PrismaClientKnownRequestError) || error.code !== 'P2002') return undefined;
  const cause = (error.meta?.driverAdapterError as { cause?: { constraint?: { fields?: string[] } } } | undefined)
    ?.cause;
  return cause?.constraint?.fields ?? [];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids in paths are UUIDs; anything else cannot name a row (and must not reach a uuid cast as a 500). */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}
