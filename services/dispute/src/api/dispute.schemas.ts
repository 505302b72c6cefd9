import { z } from 'zod';
import { pageFields } from '@orrange/http';
import { DISPUTE_STATUSES, OUTCOMES } from '../domain/dispute';

/** Text that Postgres stores and the journal hashes faithfully: no NUL, no lone UTF-16 surrogates. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const text = (min: number, max: number) =>
  z
    .string()
    .min(min)
    .max(max)
    .refine((s) => !s.includes('\u0000') && !LONE_SURROGATE.test(s), 'must be valid text without NUL characters');

/** Dispute ids come from trade-execution: UUIDs (ULIDs accepted too, per API.md's opaque ids). */
export const disputeIdSchema = z
  .string()
  .regex(
    /^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9A-HJKMNP-TV-Z]{26})$/,
    'must be a dispute id (UUID)',
  );
export const idParamsSchema = z.object({ id: disputeIdSchema }).strict();

const userIdSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, 'must be a user id');

export const attachmentSchema = z
  .object({
    name: text(1, 255),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters'),
    url: z
      .url({ protocol: /^https$/, hostname: z.regexes.domain })
      .max(2048)
      .optional(),
  })
  .strict();

export const evidenceBodySchema = z
  .object({ body: text(1, 5000), attachments: z.array(attachmentSchema).max(10).optional() })
  .strict();

export const assignBodySchema = z.object({ arbitratorId: userIdSchema.optional() }).strict();

/** The asset's scale is checked against the case; here only the shape of a positive decimal. */
export const resolveBodySchema = z
  .object({
    outcome: z.enum(OUTCOMES),
    buyerAmount: z
      .string()
      .regex(/^(0|[1-9]\d{0,17})(\.\d{1,8})?$/, 'must be a decimal string')
      .optional(),
    note: text(1, 2000),
  })
  .strict();

export const listQuerySchema = z
  .object({
    status: z.enum(DISPUTE_STATUSES).optional(),
    ...pageFields,
  })
  .strict();

// Response documentation (OpenAPI).
const decimal = { type: 'string', pattern: '^\\d+(\\.\\d+)?$' };
const nullableString = { type: 'string', nullable: true };
const timestamp = { type: 'string', format: 'date-time' };
export const evidenceDoc = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    authorId: { type: 'string' },
    authorRole: { type: 'string', enum: ['BUYER', 'SELLER', 'ARBITRATOR', 'ADMIN'] },
    body: { type: 'string' },
    attachments: {
      type: 'array',
      items: {
        type: 'object',
        properties: { name: { type: 'string' }, sha256: { type: 'string' }, url: { type: 'string' } },
      },
    },
    createdAt: timestamp,
  },
};
export const disputeDoc = {
  type: 'object',
  required: ['id', 'tradeId', 'openedBy', 'reason', 'status', 'arbitratorId', 'outcome', 'createdAt', 'resolvedAt'],
  properties: {
    id: { type: 'string' },
    tradeId: { type: 'string' },
    openedBy: { type: 'string' },
    reason: { type: 'string' },
    status: { type: 'string', enum: DISPUTE_STATUSES },
    arbitratorId: nullableString,
    outcome: { type: 'string', enum: OUTCOMES, nullable: true },
    evidence: {
      type: 'array',
      items: { $ref: '#/components/schemas/Evidence' },
      description: 'present on a single dispute, absent from list items',
    },
    createdAt: timestamp,
    resolvedAt: { ...timestamp, nullable: true },
    buyerId: { type: 'string' },
    sellerId: { type: 'string' },
    asset: { type: 'string' },
    amount: decimal,
    fiatCurrency: { type: 'string' },
    fiatAmount: decimal,
    buyerAmount: { ...decimal, nullable: true },
    settlement: { type: 'object', nullable: true, properties: { buyerAmount: decimal, sellerAmount: decimal } },
    resolutionNote: nullableString,
    resolvedBy: nullableString,
    assignedAt: { ...timestamp, nullable: true },
    deadlines: { type: 'object', properties: { evidenceUntil: timestamp, assignmentBy: timestamp } },
    evidenceClosedAt: { ...timestamp, nullable: true },
    defaultJudgmentAgainst: { type: 'array', items: { type: 'string', enum: ['BUYER', 'SELLER'] } },
    escalatedAt: { ...timestamp, nullable: true },
    settledAt: { ...timestamp, nullable: true },
  },
};
export const exportDoc = {
  type: 'object',
  properties: {
    dispute: { $ref: '#/components/schemas/Dispute' },
    journal: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          disputeId: { type: 'string' },
          seq: { type: 'integer' },
          action: { type: 'string' },
          actorId: nullableString,
          data: { type: 'object' },
          createdAt: timestamp,
          prevHash: { type: 'string' },
          hash: { type: 'string' },
        },
      },
    },
    verification: {
      type: 'object',
      required: ['verified'],
      properties: { verified: { type: 'boolean' }, brokenAt: { type: 'integer' } },
    },
  },
};
