import { randomUUID } from 'node:crypto';
import { parsePayload, type EnqueueOptions, type EventPayload, type EventType, type SqlExecutor } from '@orrange/queue';

/** One event to record in the outbox: its type, its payload, and enqueueEvent's options. */
export type OutgoingEvent = { [T in EventType]: { type: T; payload: EventPayload<T>; options?: EnqueueOptions } }[EventType];

/** An outgoing event whose payload is checked against its type at compile time. */
export function outgoing<T extends EventType>(type: T, payload: EventPayload<T>, options?: EnqueueOptions): OutgoingEvent {
  return { type, payload, options } as OutgoingEvent;
}

/**
 * enqueueEvent for many events in one statement, in the caller's transaction: each payload is validated as
 * enqueueEvent does before anything is written, the rows get their seq in the given order (the relay publishes
 * by seq), and a caller-chosen id that is already recorded is skipped.
 */
export async function enqueueEvents(tx: SqlExecutor, events: OutgoingEvent[]): Promise<void> {
  if (events.length === 0) return;
  const payloads = events.map((e) => JSON.stringify(parsePayload(e.type, e.payload)));
  await tx.query(
    `INSERT INTO outbox (id, type, payload, deliver_at)
     SELECT e.id, e.type, e.payload, e.deliver_at FROM unnest($1::uuid[], $2::text[], $3::jsonb[], $4::timestamptz[]) WITH ORDINALITY AS e(id, type, payload, deliver_at, n)
     ORDER BY e.n
     ON CONFLICT (id) DO NOTHING`,
    [events.map((e) => e.options?.id ?? randomUUID()), events.map((e) => e.type), payloads, events.map((e) => e.options?.deliverAt?.toISOString() ?? null)],
  );
}
