import { z } from 'zod';
import { assetSchema, fiatSchema } from '@orrange/money';

/**
 * Every event that crosses a service boundary, with its payload schema. Producers validate before writing
 * to the outbox, consumers validate again before applying: a malformed event never changes state.
 * Amounts and prices are decimal strings, exactly as in the API, and never negative: every one is a quantity
 * (an amount, a remainder, a price, a share of a settlement), so a sign is a broken event, refused here for
 * every consumer.
 */
/** An id and a decimal as every contract between services carries them (events and the order path's SQL calls). */
export const contractId = z.string().min(1).max(64);
export const contractDecimal = z.string().regex(/^\d{1,20}(\.\d{1,8})?$/);
const id = contractId;
const decimal = contractDecimal;

export const eventSchemas = {
  /** trade-execution → (notifications): a trade opened with its escrow locked, written by open_trades. */
  'trade.created': z
    .object({
      tradeId: id,
      matchId: id,
      buyerId: id,
      sellerId: id,
      asset: assetSchema,
      fiatCurrency: fiatSchema,
      amount: decimal,
      price: decimal,
      fiatAmount: decimal,
    })
    .strict(),
  /** `openedAt` and `paidAt` (null: released before the buyer marked it paid) feed the parties' average pay and release times. */
  'trade.completed': z
    .object({
      tradeId: id,
      buyerId: id,
      sellerId: id,
      asset: assetSchema,
      amount: decimal,
      fiatCurrency: fiatSchema,
      fiatAmount: decimal,
      completedAt: z.string(),
      openedAt: z.string().optional(),
      paidAt: z.string().nullable().optional(),
    })
    .strict(),
  'trade.cancelled': z
    .object({ tradeId: id, buyerId: id, sellerId: id, reason: z.enum(['BUYER_CANCELLED', 'PAYMENT_TIMEOUT']) })
    .strict(),
  'trade.disputed': z
    .object({
      tradeId: id,
      disputeId: id,
      openedBy: id,
      reason: z.string().max(2000),
      buyerId: id,
      sellerId: id,
      asset: assetSchema,
      amount: decimal,
      fiatCurrency: fiatSchema,
      fiatAmount: decimal,
    })
    .strict(),
  'trade.resolved': z
    .object({
      tradeId: id,
      disputeId: id,
      outcome: z.enum(['RELEASE_TO_BUYER', 'REFUND_SELLER', 'SPLIT']),
      buyerId: id,
      sellerId: id,
      buyerAmount: decimal,
      sellerAmount: decimal,
    })
    .strict(),
  'feedback.left': z
    .object({ tradeId: id, fromUserId: id, toUserId: id, rating: z.enum(['POSITIVE', 'NEGATIVE']) })
    .strict(),
  /** dispute → trade-execution: move the escrow as decided. `buyerAmount` only for SPLIT. */
  'dispute.resolved': z
    .object({
      disputeId: id,
      tradeId: id,
      outcome: z.enum(['RELEASE_TO_BUYER', 'REFUND_SELLER', 'SPLIT']),
      buyerAmount: decimal.nullable(),
      resolvedBy: id,
    })
    .strict(),
  /** dispute → trade-execution: the arbitrator who may now read the trade and its chat. */
  'dispute.assigned': z.object({ disputeId: id, tradeId: id, arbitratorId: id }).strict(),
  /** dispute → (metrics, operators): a case waited too long for an arbitrator, or a party stayed silent. */
  'dispute.escalated': z
    .object({ disputeId: id, tradeId: id, reason: z.enum(['UNASSIGNED_TOO_LONG', 'PARTY_SILENT']) })
    .strict(),
  /**
   * dispute → dispute (delayed), no longer written: dispute timers are rows fired by a sweeper. Kept so that rows
   * still in an outbox or a queue from before are consumed (and confirmed) rather than failed as unknown.
   */
  'dispute.deadline': z.object({ disputeId: id, kind: z.enum(['EVIDENCE_WINDOW', 'ASSIGNMENT']) }).strict(),
  /** trade-execution → user: an admin approved or rejected a withdrawal; the user service's audit log records it. */
  'withdrawal.reviewed': z
    .object({
      withdrawalId: id,
      userId: id,
      asset: assetSchema,
      amount: decimal,
      decision: z.enum(['APPROVED', 'REJECTED']),
      reviewedBy: id,
      note: z.string().max(1000).nullable(),
      requestId: z.string().max(200).nullable(),
    })
    .strict(),
} as const;

export type EventType = keyof typeof eventSchemas;
export type EventPayload<T extends EventType> = z.infer<(typeof eventSchemas)[T]>;

export const SERVICES = ['user', 'order-book', 'trade-execution', 'dispute'] as const;
export type ServiceName = (typeof SERVICES)[number];

/** Which services' queues receive each event. An event nobody consumes is still recorded in its producer's outbox. */
export const EVENT_ROUTES: Record<EventType, readonly ServiceName[]> = {
  'trade.created': [],
  'trade.completed': ['user'],
  'trade.cancelled': ['user'],
  'trade.disputed': ['dispute'],
  'trade.resolved': ['user', 'dispute'],
  'feedback.left': ['user'],
  'dispute.resolved': ['trade-execution'],
  'dispute.assigned': ['trade-execution'],
  'dispute.escalated': [],
  'dispute.deadline': ['dispute'],
  'withdrawal.reviewed': ['user'],
};

/** The Postgres schema each service owns: its inbox, and the `inbox_confirmed` function producers ask. */
export const SERVICE_SCHEMAS: Record<ServiceName, string> = {
  user: 'users',
  'order-book': 'order_book',
  'trade-execution': 'trade',
  dispute: 'dispute',
};

/** Event types nobody consumes: they count as confirmed once published. */
export const UNROUTED_EVENT_TYPES: readonly EventType[] = (Object.keys(EVENT_ROUTES) as EventType[]).filter(
  (type) => EVENT_ROUTES[type].length === 0,
);

/** What travels on a queue: the outbox row, id first. The id is the BullMQ job id and the inbox key. */
export interface EventEnvelope<T extends EventType = EventType> {
  id: string;
  type: T;
  occurredAt: string;
  payload: EventPayload<T>;
}

export const envelopeSchema = z
  .object({
    id: z.string().uuid(),
    type: z.enum(Object.keys(eventSchemas) as [EventType, ...EventType[]]),
    occurredAt: z.string(),
    payload: z.unknown(),
  })
  .strict();

export function parsePayload<T extends EventType>(type: T, payload: unknown): EventPayload<T> {
  return eventSchemas[type].parse(payload) as EventPayload<T>;
}

export function queueName(service: ServiceName): string {
  return `${service}.events`;
}
