import { openApiDocument, operation, pageSchema, PAGE_PARAMS, type ApiTag } from '@orrange/http';
import {
  assignBodySchema,
  disputeDoc,
  evidenceBodySchema,
  evidenceDoc,
  exportDoc,
  resolveBodySchema,
} from './dispute.schemas';

const tags: ApiTag[] = ['Disputes'];
const idParam = {
  name: 'id',
  in: 'path' as const,
  schema: { type: 'string', format: 'uuid' },
  description: 'the dispute id (trade-execution returns it as `disputeId`)',
};
const idempotencyKey = {
  name: 'Idempotency-Key',
  in: 'header' as const,
  schema: { type: 'string', minLength: 1, maxLength: 255 },
  description: 'same key and body within 24 h replays the first answer',
};
const dispute = { $ref: '#/components/schemas/Dispute' };
const common = {
  401: { description: 'no or invalid identity' },
  404: { description: 'no such dispute, or not visible to the caller' },
};

/** The dispute service's part of the public API; the gateway merges it into /docs/openapi.json. */
export const openapi = openApiDocument(
  'Orrange dispute service',
  {
    '/api/v1/disputes': {
      get: operation({
        summary:
          'List disputes: arbitrators and admins see all, users the ones they are a party to (items carry no evidence)',
        tags,
        auth: true,
        params: [
          { name: 'status', in: 'query', schema: { type: 'string', enum: ['OPEN', 'UNDER_REVIEW', 'RESOLVED'] } },
          ...PAGE_PARAMS,
        ],
        responses: {
          200: { description: 'a page of disputes', schema: pageSchema(dispute) },
          400: { description: 'invalid query' },
          401: common[401],
        },
      }),
    },
    '/api/v1/disputes/{id}': {
      get: operation({
        summary: 'A dispute with its evidence: the parties, the assigned arbitrator and admins',
        tags,
        auth: true,
        params: [idParam],
        responses: {
          200: { description: 'the dispute', schema: dispute },
          400: { description: 'invalid id' },
          ...common,
        },
      }),
    },
    '/api/v1/disputes/{id}/evidence': {
      post: operation({
        summary: 'Add evidence (a party or the assigned arbitrator, while not resolved)',
        tags,
        auth: true,
        params: [idParam, idempotencyKey],
        body: evidenceBodySchema,
        responses: {
          201: { description: 'the evidence item', schema: { $ref: '#/components/schemas/Evidence' } },
          400: { description: 'invalid body' },
          ...common,
          403: { description: 'may see the case but not add evidence' },
          409: {
            description: 'DISPUTE.ALREADY_RESOLVED, DISPUTE.EVIDENCE_LIMIT (200 items or 512 KiB of text per case)',
          },
        },
      }),
    },
    '/api/v1/disputes/{id}/assign': {
      post: operation({
        summary:
          'Assign an arbitrator: an arbitrator takes the case for themself, an admin assigns anyone (OPEN → UNDER_REVIEW, emits dispute.assigned)',
        tags,
        auth: 'session',
        params: [idParam, idempotencyKey],
        body: assignBodySchema,
        responses: {
          200: { description: 'the dispute', schema: dispute },
          400: { description: 'invalid body' },
          ...common,
          403: {
            description:
              'not an arbitrator or admin, another arbitrator named, a party named (DISPUTE.CONFLICT_OF_INTEREST), or an API key (AUTH.SESSION_REQUIRED: arbitration needs a session)',
          },
          409: { description: 'DISPUTE.ALREADY_RESOLVED, DISPUTE.ALREADY_ASSIGNED' },
        },
      }),
    },
    '/api/v1/disputes/{id}/resolve': {
      post: operation({
        summary:
          'Resolve: the assigned arbitrator or an admin; SPLIT pays buyerAmount (0 < buyerAmount ≤ amount, asset scale) to the buyer and the rest to the seller. Emits dispute.resolved once',
        tags,
        auth: 'session',
        params: [idParam, idempotencyKey],
        body: resolveBodySchema,
        responses: {
          200: { description: 'the resolved dispute', schema: dispute },
          400: { description: 'invalid body or buyerAmount' },
          ...common,
          403: {
            description:
              'may see the case but not resolve it, or an API key (AUTH.SESSION_REQUIRED: arbitration needs a session)',
          },
          409: { description: 'DISPUTE.ALREADY_RESOLVED' },
        },
      }),
    },
    '/api/v1/disputes/{id}/export': {
      get: operation({
        summary: 'Export a case with its tamper-evident journal, re-verified (the assigned arbitrator and admins)',
        tags,
        auth: true,
        params: [idParam],
        responses: {
          200: { description: 'the case, its journal and the chain verification', schema: exportDoc },
          400: { description: 'invalid id' },
          ...common,
          403: { description: 'a party: parties read the case, not the export' },
        },
      }),
    },
  },
  { Dispute: disputeDoc, Evidence: evidenceDoc },
);
