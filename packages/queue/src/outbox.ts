import { randomUUID } from 'node:crypto';
import type { SqlRunner } from '@orrange/db';
import { parsePayload, type EventPayload, type EventType } from './contracts';

/**
 * A write whose result nobody reads: with the COMMIT where the executor can defer it, else now. Only for the
 * outbox, which nothing reads inside the transaction that writes it (deferring a row that a later statement
 * of the same transaction reads would hide it from that statement).
 */
async function deferWrite(tx: SqlRunner, sql: string, params: unknown[]): Promise<void> {
  if (tx.defer) tx.defer(sql, params);
  else await tx.query(sql, params);
}

/** Runs statements in one round trip where the executor can send them together, else one after the other. */
export async function queryTogether<R = Record<string, unknown>>(
  tx: SqlRunner,
  statements: Array<{ sql: string; params?: unknown[] }>,
): Promise<R[][]> {
  if (tx.queries) return tx.queries<R>(statements);
  const results: R[][] = [];
  for (const s of statements) results.push(await tx.query<R>(s.sql, s.params));
  return results;
}

/**
 * The outbox and inbox tables, written once: every service's schema has exactly these (its migrations made them;
 * test/outbox-tables.test.ts compares each migrated schema with this text, column by column and index by index).
 * A new service's first migration takes this text; a test that builds a schema by hand runs it. Services model the
 * tables in their schema.prisma too (prisma-models.prisma in this package, checked by the same test), so that
 * `prisma migrate dev` never drops them.
 */
export const OUTBOX_TABLES_SQL = `
CREATE TABLE IF NOT EXISTS outbox (
  id            UUID           NOT NULL CONSTRAINT outbox_pkey PRIMARY KEY,
  seq           BIGSERIAL      NOT NULL,
  type          TEXT           NOT NULL,
  payload       JSONB          NOT NULL,
  occurred_at   TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  deliver_at    TIMESTAMPTZ(6),
  published_at  TIMESTAMPTZ(6),
  claimed_until TIMESTAMPTZ(6),
  confirmed_at  TIMESTAMPTZ(6),
  recheck_at    TIMESTAMPTZ(6),
  redeliveries  INTEGER        NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS outbox_seq_key ON outbox (seq);
CREATE INDEX IF NOT EXISTS outbox_unpublished_idx ON outbox (published_at, seq);
CREATE INDEX IF NOT EXISTS outbox_unchecked_idx ON outbox ((greatest(published_at, deliver_at))) WHERE confirmed_at IS NULL AND recheck_at IS NULL AND published_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS outbox_recheck_idx ON outbox (recheck_at) WHERE confirmed_at IS NULL AND recheck_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS inbox (
  event_id     UUID           NOT NULL,
  consumer     TEXT           NOT NULL,
  processed_at TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT inbox_pkey PRIMARY KEY (event_id, consumer)
);`;

/**
 * The function through which a consumer confirms deliveries to producers: which of these event ids its inbox
 * holds. Each service's migrations create it in its own schema (SECURITY DEFINER, so producers need EXECUTE on
 * one function, not a grant on the inbox table); the same text, for tests that build schemas by hand.
 */
export function inboxConfirmedFunctionSql(schema: string): string {
  return `CREATE OR REPLACE FUNCTION "${schema}".inbox_confirmed(event_ids uuid[]) RETURNS SETOF uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = "${schema}", pg_temp
    AS 'SELECT DISTINCT event_id FROM inbox WHERE event_id = ANY(event_ids)'`;
}

export interface EnqueueOptions {
  /** Deliver no earlier than this (timers: payment deadlines, evidence windows). */
  deliverAt?: Date;
  /** A caller-chosen id makes the enqueue itself idempotent (e.g. one deadline per trade). */
  id?: string;
}

/**
 * Records an event in the caller's transaction. It reaches BullMQ only if the transaction commits, and
 * then certainly (the relay retries until it is published): no lost and no phantom events. The row is
 * written with the COMMIT where the transaction can defer writes (the payload is validated now).
 */
export async function enqueueEvent<T extends EventType>(
  tx: SqlRunner,
  type: T,
  payload: EventPayload<T>,
  options: EnqueueOptions = {},
): Promise<string> {
  const valid = parsePayload(type, payload);
  const id = options.id ?? randomUUID();
  await deferWrite(
    tx,
    'INSERT INTO outbox (id, type, payload, deliver_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING',
    [id, type, JSON.stringify(valid), options.deliverAt ?? null],
  );
  return id;
}

/** One event to record in the outbox: its type, its payload, and enqueueEvent's options. */
export type OutgoingEvent = {
  [T in EventType]: { type: T; payload: EventPayload<T>; options?: EnqueueOptions };
}[EventType];

/** An outgoing event whose payload is checked against its type at compile time. */
export function outgoing<T extends EventType>(
  type: T,
  payload: EventPayload<T>,
  options?: EnqueueOptions,
): OutgoingEvent {
  return { type, payload, options } as OutgoingEvent;
}

/**
 * enqueueEvent for many events in one statement, in the caller's transaction: each payload is validated as
 * enqueueEvent does before anything is written, the rows get their seq in the given order (the relay publishes
 * by seq), and a caller-chosen id that is already recorded is skipped.
 */
export async function enqueueEvents(tx: SqlRunner, events: OutgoingEvent[]): Promise<void> {
  if (events.length === 0) return;
  const payloads = events.map((e) => JSON.stringify(parsePayload(e.type, e.payload)));
  await deferWrite(
    tx,
    `INSERT INTO outbox (id, type, payload, deliver_at)
     SELECT e.id, e.type, e.payload, e.deliver_at FROM unnest($1::uuid[], $2::text[], $3::jsonb[], $4::timestamptz[]) WITH ORDINALITY AS e(id, type, payload, deliver_at, n)
     ORDER BY e.n
     ON CONFLICT (id) DO NOTHING`,
    [
      events.map((e) => e.options?.id ?? randomUUID()),
      events.map((e) => e.type),
      payloads,
      events.map((e) => e.options?.deliverAt?.toISOString() ?? null),
    ],
  );
}

/**
 * Claims events for a consumer inside the caller's transaction, in one statement: returns the ids (in lower
 * case, as Postgres prints uuids) this consumer had not applied yet, each once even when an id appears twice
 * in `eventIds`. The caller applies only those, so an at-least-once redelivery changes nothing.
 */
export async function claimInboxMany(tx: SqlRunner, eventIds: string[], consumer: string): Promise<Set<string>> {
  const rows = await tx.query<{ event_id: string }>(
    'INSERT INTO inbox (event_id, consumer) SELECT DISTINCT unnest($1::uuid[]), $2 ON CONFLICT DO NOTHING RETURNING event_id::text',
    [eventIds, consumer],
  );
  return new Set(rows.map((r) => r.event_id));
}
