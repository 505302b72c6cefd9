import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Identity } from '@orrange/http';

/** API.md: a ticket is valid for 60 s. */
export const TICKET_TTL_SECONDS = 60;

/**
 * Short-lived, single-use stream tickets for clients that cannot send headers (a browser's EventSource): the
 * identity of the caller who asked for one, in Redis under the ticket's hash (Redis never holds a usable ticket),
 * taken with GETDEL so that two redemptions cannot both succeed.
 */
export class StreamTickets {
  constructor(private readonly deps: { redis: Redis; prefix: string }) {}

  private key(ticket: string): string {
    return `${this.deps.prefix}:live:ticket:${createHash('sha256').update(ticket).digest('base64url')}`;
  }

  async issue(identity: Identity): Promise<{ ticket: string; expiresAt: string }> {
    const ticket = randomBytes(32).toString('base64url');
    await this.deps.redis.set(this.key(ticket), JSON.stringify(identity), 'EX', TICKET_TTL_SECONDS);
    return { ticket, expiresAt: new Date(Date.now() + TICKET_TTL_SECONDS * 1_000).toISOString() };
  }

  /** The identity the ticket was issued to, once; undefined for an unknown, expired or already used ticket. */
  async redeem(ticket: string): Promise<Identity | undefined> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(ticket)) return undefined;
    const stored = await this.deps.redis.getdel(this.key(ticket));
    return stored ? (JSON.parse(stored) as Identity) : undefined;
  }
}
