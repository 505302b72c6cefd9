import { openApiDocument, operation, pageSchema, PAGE_PARAMS, schemaOf, type ApiTag } from '@orrange/http';
import { z } from 'zod';
import { custodyEventSchema } from '../domain/custody-webhook';
import { depositBody, disputeBody, feedbackBody, messageBody, reviewBody, withdrawalBody } from './schemas';

const decimal = { type: 'string', description: 'exact decimal string', example: '0.01500000' };
const nullableDecimal = { ...decimal, nullable: true };
const idParam = { name: 'id', in: 'path' as const };
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const page = (item: string) => pageSchema(ref(item));
const tags: Record<string, ApiTag[]> = {
  wallet: ['Wallet'],
  trades: ['Trades'],
  stats: ['Statistics'],
  admin: ['Admin'],
  custody: ['Custody'],
};
const errors = {
  400: { description: 'Invalid input (VALIDATION.FAILED)' },
  401: { description: 'Not authenticated' },
};
const tradeErrors = {
  ...errors,
  403: { description: 'A party, but not the side that may do this (TRADE.FORBIDDEN_ACTION)' },
  404: { description: 'Not your trade, or no such trade (TRADE.NOT_FOUND)' },
  409: { description: "Not allowed in the trade's state (TRADE.INVALID_STATE)" },
};
const WITHDRAWAL = {
  description: 'The withdrawal after the action',
  schema: { type: 'object', properties: { withdrawal: ref('Withdrawal') } },
};
const ADMIN_ONLY = { description: 'Not admin, or AUTH.SESSION_REQUIRED (an API key)' };
const trade = {
  description: 'The trade after the transition',
  schema: { type: 'object', properties: { trade: ref('Trade') } },
};

const schemas = {
  Balance: {
    type: 'object',
    required: ['asset', 'available', 'held', 'inEscrow'],
    properties: {
      asset: { type: 'string', enum: ['BTC', 'ETH', 'USDT', 'USDC'] },
      available: decimal,
      held: decimal,
      inEscrow: decimal,
    },
  },
  LedgerEntry: {
    type: 'object',
    properties: {
      id: { type: 'string' },
      journalId: { type: 'string' },
      type: { type: 'string' },
      ref: { type: 'string' },
      account: { type: 'string', enum: ['AVAILABLE', 'HELD', 'ESCROW'] },
      accountRef: { type: 'string', nullable: true },
      asset: { type: 'string' },
      amount: { ...decimal, description: 'signed: credit positive, debit negative' },
      createdAt: { type: 'string', format: 'date-time' },
    },
  },
  Trade: {
    type: 'object',
    required: [
      'id',
      'matchId',
      'buyerId',
      'sellerId',
      'asset',
      'fiatCurrency',
      'price',
      'amount',
      'fiatAmount',
      'paymentMethod',
      'status',
      'paymentDeadline',
      'escrow',
      'createdAt',
      'updatedAt',
    ],
    properties: {
      id: { type: 'string' },
      matchId: { type: 'string' },
      buyOrderId: { type: 'string', nullable: true },
      sellOrderId: { type: 'string', nullable: true },
      buyerId: { type: 'string' },
      sellerId: { type: 'string' },
      asset: { type: 'string' },
      fiatCurrency: { type: 'string' },
      price: decimal,
      amount: decimal,
      fiatAmount: decimal,
      fee: decimal,
      paymentMethod: { type: 'string' },
      paymentWindowMinutes: { type: 'integer' },
      status: { type: 'string', enum: ['AWAITING_PAYMENT', 'PAID', 'COMPLETED', 'CANCELLED', 'DISPUTED', 'RESOLVED'] },
      paymentDeadline: { type: 'string', format: 'date-time' },
      escrow: { type: 'object', properties: { status: { type: 'string', enum: ['LOCKED', 'RELEASED', 'REFUNDED'] } } },
      disputeId: { type: 'string', nullable: true },
      arbitratorId: { type: 'string', nullable: true },
      cancelReason: { type: 'string', nullable: true },
      outcome: { type: 'string', nullable: true },
      buyerAmount: nullableDecimal,
      paidAt: { type: 'string', format: 'date-time', nullable: true },
      closedAt: { type: 'string', format: 'date-time', nullable: true },
      createdAt: { type: 'string', format: 'date-time' },
      updatedAt: { type: 'string', format: 'date-time' },
      paymentDetails: {
        type: 'object',
        nullable: true,
        required: ['type', 'label', 'details'],
        description:
          "The SELL side's saved payment method as it was when the trade opened (null: none fitted). Only in GET /trades/{id}, to the buyer and the seller while AWAITING_PAYMENT, PAID or DISPUTED, and to the assigned arbitrator and admins; absent otherwise. Reads by others than the seller are audited.",
        properties: {
          type: { type: 'string' },
          label: { type: 'string' },
          details: { oneOf: [{ type: 'string' }, { type: 'object', additionalProperties: { type: 'string' } }] },
        },
      },
    },
  },
  Withdrawal: {
    type: 'object',
    required: ['id', 'asset', 'amount', 'fee', 'address', 'status', 'txid', 'createdAt', 'updatedAt'],
    properties: {
      id: { type: 'string' },
      asset: { type: 'string', enum: ['BTC', 'ETH', 'USDT', 'USDC'] },
      amount: decimal,
      fee: { ...decimal, description: 'moved to FEES on confirmation, returned with the amount otherwise' },
      address: { type: 'string' },
      network: { type: 'string', nullable: true },
      status: {
        type: 'string',
        enum: ['PENDING_REVIEW', 'APPROVED', 'BROADCAST', 'CONFIRMED', 'REJECTED', 'CANCELLED', 'FAILED'],
      },
      txid: { type: 'string', nullable: true },
      note: { type: 'string', nullable: true },
      failureReason: { type: 'string', nullable: true },
      createdAt: { type: 'string', format: 'date-time' },
      updatedAt: { type: 'string', format: 'date-time' },
      userId: { type: 'string', description: 'admin views only' },
      reviewedBy: { type: 'string', nullable: true, description: 'admin views only: an admin id or auto' },
      sendAttempts: { type: 'integer', description: 'admin views only' },
      lastSendError: {
        type: 'string',
        nullable: true,
        description: 'admin views only: why custody did not take it yet',
      },
    },
  },
  Deposit: {
    type: 'object',
    required: ['id', 'asset', 'amount', 'txid', 'confirmations', 'status', 'createdAt'],
    properties: {
      id: { type: 'string' },
      asset: { type: 'string' },
      amount: decimal,
      address: { type: 'string', nullable: true },
      txid: { type: 'string', nullable: true, description: 'null for development-faucet deposits' },
      index: { type: 'integer', nullable: true },
      confirmations: { type: 'integer' },
      status: { type: 'string', enum: ['PENDING', 'CREDITED'] },
      createdAt: { type: 'string', format: 'date-time' },
    },
  },
  TradeMessage: {
    type: 'object',
    properties: {
      id: { type: 'string' },
      tradeId: { type: 'string' },
      senderId: { type: 'string' },
      body: { type: 'string' },
      createdAt: { type: 'string', format: 'date-time' },
    },
  },
  MarketStats: {
    type: 'object',
    properties: {
      asset: { type: 'string' },
      fiatCurrency: { type: 'string' },
      lastPrice: decimal,
      high24h: nullableDecimal,
      low24h: nullableDecimal,
      vwap24h: nullableDecimal,
      volume24h: decimal,
      fiatVolume24h: decimal,
      trades24h: { type: 'integer' },
    },
  },
};

/** The trade-execution service's part of the public API; the gateway merges it into /docs/openapi.json. */
export const openapi = openApiDocument(
  'Orrange trade-execution service',
  {
    '/api/v1/wallet/balances': {
      get: operation({
        summary: 'Balances of the caller per asset',
        tags: tags.wallet,
        auth: true,
        responses: {
          200: {
            description: 'All four assets',
            schema: { type: 'object', properties: { data: { type: 'array', items: ref('Balance') } } },
          },
          401: errors[401],
        },
      }),
    },
    '/api/v1/wallet/deposit-address': {
      get: operation({
        summary: "The caller's deposit address for an asset (the same every time)",
        tags: tags.wallet,
        auth: true,
        params: [
          {
            name: 'asset',
            in: 'query',
            required: true,
            schema: { type: 'string', enum: ['BTC', 'ETH', 'USDT', 'USDC'] },
          },
        ],
        responses: {
          200: {
            description: 'The address on the configured network',
            schema: {
              type: 'object',
              required: ['asset', 'network', 'address'],
              properties: {
                asset: { type: 'string' },
                network: { type: 'string', example: 'bitcoin-mainnet' },
                address: { type: 'string' },
              },
            },
          },
          ...errors,
        },
      }),
    },
    '/api/v1/wallet/deposits': {
      get: operation({
        summary: "The caller's deposits, newest first (custody deposits PENDING until confirmed, then CREDITED)",
        tags: tags.wallet,
        auth: true,
        params: PAGE_PARAMS,
        responses: { 200: { description: 'A page', schema: page('Deposit') }, ...errors },
      }),
      post: operation({
        summary: 'Deposit (a faucet outside production; admin-only with NODE_ENV=production)',
        tags: tags.wallet,
        auth: true,
        body: depositBody,
        params: [{ name: 'Idempotency-Key', in: 'header' }],
        responses: {
          201: {
            description: 'Credited',
            schema: {
              type: 'object',
              properties: {
                id: { type: 'string' },
                asset: { type: 'string' },
                amount: decimal,
                status: { type: 'string', enum: ['CREDITED'] },
              },
            },
          },
          ...errors,
          403: {
            description:
              'WALLET.DEPOSITS_DISABLED: production, and not an admin in a session (an API key never credits)',
          },
          422: { description: 'Idempotency-Key reused with another body' },
        },
      }),
    },
    '/api/v1/wallet/withdrawals': {
      get: operation({
        summary: "The caller's withdrawals, newest first",
        tags: tags.wallet,
        auth: true,
        params: PAGE_PARAMS,
        responses: { 200: { description: 'A page', schema: page('Withdrawal') }, ...errors },
      }),
      post: operation({
        summary:
          'Withdraw: amount + fee debited at once; APPROVED up to WITHDRAWAL_AUTO_APPROVE_MAX, else PENDING_REVIEW. Needs a session, or an API key with the withdraw scope',
        tags: tags.wallet,
        auth: true,
        body: withdrawalBody,
        params: [{ name: 'Idempotency-Key', in: 'header' }],
        responses: {
          201: {
            description: 'Taken (id and status repeated at the top for clients of the first version)',
            schema: {
              type: 'object',
              required: ['withdrawal'],
              properties: { withdrawal: ref('Withdrawal'), id: { type: 'string' }, status: { type: 'string' } },
            },
          },
          ...errors,
          400: {
            description:
              'VALIDATION.FAILED, or WALLET.INVALID_ADDRESS (not an address of the asset on the configured network, or a bad checksum)',
          },
          403: { description: 'AUTH.SCOPE_MISSING: an API key without the withdraw scope' },
          409: { description: 'WALLET.INSUFFICIENT_FUNDS, or WALLET.WITHDRAWAL_LIMIT (WITHDRAWAL_DAILY_MAX in 24 h)' },
          422: { description: 'Idempotency-Key reused with another body' },
        },
      }),
    },
    '/api/v1/wallet/withdrawals/{id}': {
      get: operation({
        summary: "One of the caller's withdrawals",
        tags: tags.wallet,
        auth: true,
        params: [idParam],
        responses: { 200: WITHDRAWAL, ...errors, 404: { description: 'WITHDRAWAL.NOT_FOUND' } },
      }),
    },
    '/api/v1/wallet/withdrawals/{id}/cancel': {
      post: operation({
        summary: 'Cancel a withdrawal still in PENDING_REVIEW: amount and fee back',
        tags: tags.wallet,
        auth: true,
        params: [idParam, { name: 'Idempotency-Key', in: 'header' }],
        responses: {
          200: WITHDRAWAL,
          ...errors,
          403: { description: 'AUTH.SCOPE_MISSING: an API key without the withdraw scope' },
          404: { description: 'WITHDRAWAL.NOT_FOUND' },
          409: { description: 'WITHDRAWAL.INVALID_STATE' },
        },
      }),
    },
    '/api/v1/admin/withdrawals': {
      get: operation({
        summary: 'Withdrawals of everyone, newest first, by status (admin)',
        tags: tags.admin,
        auth: 'session',
        params: [
          ...PAGE_PARAMS,
          {
            name: 'status',
            in: 'query',
            schema: {
              type: 'string',
              enum: ['PENDING_REVIEW', 'APPROVED', 'BROADCAST', 'CONFIRMED', 'REJECTED', 'CANCELLED', 'FAILED'],
            },
          },
        ],
        responses: { 200: { description: 'A page', schema: page('Withdrawal') }, ...errors, 403: ADMIN_ONLY },
      }),
    },
    '/api/v1/admin/withdrawals/{id}': {
      get: operation({
        summary: 'One withdrawal with its transitions: who approved, rejected, cancelled it, and when (admin)',
        tags: tags.admin,
        auth: 'session',
        params: [idParam],
        responses: {
          200: {
            description: 'The withdrawal and its history',
            schema: {
              type: 'object',
              properties: {
                withdrawal: ref('Withdrawal'),
                transitions: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      from: { type: 'string', nullable: true },
                      to: { type: 'string' },
                      actor: { type: 'string' },
                      note: { type: 'string', nullable: true },
                      at: { type: 'string', format: 'date-time' },
                    },
                  },
                },
              },
            },
          },
          ...errors,
          403: ADMIN_ONLY,
          404: { description: 'WITHDRAWAL.NOT_FOUND' },
        },
      }),
    },
    '/api/v1/admin/withdrawals/{id}/approve': {
      post: operation({
        summary: 'Approve a withdrawal in PENDING_REVIEW: it is sent to custody next (admin)',
        tags: tags.admin,
        auth: 'session',
        params: [idParam, { name: 'Idempotency-Key', in: 'header' }],
        body: reviewBody,
        responses: {
          200: WITHDRAWAL,
          ...errors,
          403: ADMIN_ONLY,
          404: { description: 'WITHDRAWAL.NOT_FOUND' },
          409: { description: 'WITHDRAWAL.INVALID_STATE (e.g. approved or cancelled already)' },
        },
      }),
    },
    '/api/v1/admin/withdrawals/{id}/reject': {
      post: operation({
        summary: 'Reject a withdrawal in PENDING_REVIEW: amount and fee back to the user (admin)',
        tags: tags.admin,
        auth: 'session',
        params: [idParam, { name: 'Idempotency-Key', in: 'header' }],
        body: reviewBody,
        responses: {
          200: WITHDRAWAL,
          ...errors,
          403: ADMIN_ONLY,
          404: { description: 'WITHDRAWAL.NOT_FOUND' },
          409: { description: 'WITHDRAWAL.INVALID_STATE' },
        },
      }),
    },
    '/api/v1/custody/webhooks': {
      post: operation({
        summary:
          'Custody events: deposit.confirmed, withdrawal.broadcast | confirmed | failed, signed with X-Orrange-Signature',
        tags: tags.custody,
        auth: 'custodySignature',
        body: custodyEventSchema,
        responses: {
          200: {
            description: 'Applied, or applied before (applied: false); a deposit short of its confirmations is PENDING',
            schema: {
              type: 'object',
              properties: {
                type: { type: 'string' },
                status: { type: 'string' },
                applied: { type: 'boolean' },
                depositId: { type: 'string' },
                withdrawalId: { type: 'string' },
              },
            },
          },
          401: { description: 'CUSTODY.INVALID_SIGNATURE: missing, wrong or older than 5 minutes; nothing stored' },
          422: {
            description:
              'CUSTODY.MALFORMED, CUSTODY.UNKNOWN_ADDRESS, CUSTODY.UNKNOWN_WITHDRAWAL or CUSTODY.CONFLICT: kept for operators, nothing credited',
          },
        },
      }),
    },
    '/api/v1/wallet/ledger': {
      get: operation({
        summary: "The caller's ledger entries, newest first",
        tags: tags.wallet,
        auth: true,
        params: PAGE_PARAMS,
        responses: { 200: { description: 'A page', schema: page('LedgerEntry') }, ...errors },
      }),
    },
    '/api/v1/admin/ledger/verify': {
      get: operation({
        summary: 'Check the double-entry invariant on the live ledger',
        tags: tags.admin,
        auth: 'session',
        responses: {
          200: {
            description: 'ok is true when every asset sums to zero and no user account is negative',
            schema: {
              type: 'object',
              properties: {
                ok: { type: 'boolean' },
                assets: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      asset: { type: 'string' },
                      sum: decimal,
                      entriesSum: decimal,
                      accounts: { type: 'integer' },
                      negativeAccounts: { type: 'integer' },
                      mismatchedAccounts: { type: 'integer' },
                      unbalancedJournals: { type: 'integer' },
                    },
                  },
                },
                pendingWithdrawals: {
                  type: 'array',
                  items: {
                    type: 'object',
                    description:
                      'PENDING_WITHDRAWAL (held) against the amount and fee of open withdrawals (owed): equal when every transition moved its money',
                    properties: { asset: { type: 'string' }, held: decimal, owed: decimal },
                  },
                },
              },
            },
          },
          401: errors[401],
          403: { description: 'Not admin, or AUTH.SESSION_REQUIRED (an API key)' },
        },
      }),
    },
    '/api/v1/trades': {
      get: operation({
        summary: "The caller's trades, newest first",
        tags: tags.trades,
        auth: true,
        params: [...PAGE_PARAMS, { name: 'status', in: 'query' }],
        responses: { 200: { description: 'A page', schema: page('Trade') }, ...errors },
      }),
    },
    '/api/v1/trades/{id}': {
      get: operation({
        summary: 'One trade (parties, arbitrators, admins)',
        tags: tags.trades,
        auth: true,
        params: [idParam],
        responses: { 200: trade, 401: errors[401], 404: tradeErrors[404] },
      }),
    },
    '/api/v1/trades/{id}/paid': {
      post: operation({
        summary: 'Buyer: AWAITING_PAYMENT → PAID',
        tags: tags.trades,
        auth: true,
        params: [idParam],
        responses: { 200: trade, ...tradeErrors },
      }),
    },
    '/api/v1/trades/{id}/release': {
      post: operation({
        summary: 'Seller: PAID or AWAITING_PAYMENT → COMPLETED; escrow to the buyer (minus the fee)',
        tags: tags.trades,
        auth: true,
        params: [idParam],
        responses: { 200: trade, ...tradeErrors },
      }),
    },
    '/api/v1/trades/{id}/cancel': {
      post: operation({
        summary: 'Buyer, before PAID: → CANCELLED; escrow back to the seller',
        tags: tags.trades,
        auth: true,
        params: [idParam],
        responses: { 200: trade, ...tradeErrors },
      }),
    },
    '/api/v1/trades/{id}/dispute': {
      post: operation({
        summary: 'A party, when PAID (or AWAITING_PAYMENT after the deadline): → DISPUTED',
        tags: tags.trades,
        auth: true,
        params: [idParam],
        body: disputeBody,
        responses: {
          201: {
            description: 'The dispute opened',
            schema: { type: 'object', properties: { disputeId: { type: 'string' } } },
          },
          ...tradeErrors,
        },
      }),
    },
    '/api/v1/trades/{id}/messages': {
      get: operation({
        summary: 'Trade chat (parties, the assigned arbitrator, admins)',
        tags: tags.trades,
        auth: true,
        params: [idParam, ...PAGE_PARAMS],
        responses: {
          200: { description: 'Oldest first', schema: page('TradeMessage') },
          ...errors,
          404: tradeErrors[404],
        },
      }),
      post: operation({
        summary: 'Write in the trade chat (while the trade is open; at most 500 messages per trade)',
        tags: tags.trades,
        auth: true,
        params: [idParam],
        body: messageBody,
        responses: {
          201: { description: 'Written', schema: { type: 'object', properties: { message: ref('TradeMessage') } } },
          ...errors,
          404: tradeErrors[404],
          409: {
            description:
              'TRADE.CHAT_CLOSED (the trade is COMPLETED, CANCELLED or RESOLVED) or TRADE.CHAT_LIMIT_REACHED',
          },
        },
      }),
    },
    '/api/v1/trades/{id}/feedback': {
      post: operation({
        summary: 'A party, once, after COMPLETED',
        tags: tags.trades,
        auth: true,
        params: [idParam],
        body: feedbackBody,
        responses: {
          201: { description: 'Recorded', schema: { type: 'object', properties: { feedback: { type: 'object' } } } },
          ...errors,
          404: tradeErrors[404],
          409: { description: 'TRADE.INVALID_STATE or FEEDBACK.ALREADY_LEFT' },
        },
      }),
    },
    '/api/v1/stats/markets': {
      get: operation({
        summary: 'Per-market 24 h statistics (public)',
        tags: tags.stats,
        responses: {
          200: {
            description: 'Markets that ever traded',
            schema: { type: 'object', properties: { data: { type: 'array', items: ref('MarketStats') } } },
          },
        },
      }),
    },
    '/api/v1/admin/stats': {
      get: operation({
        summary: 'Platform statistics (admin)',
        tags: tags.admin,
        auth: 'session',
        responses: {
          200: {
            description: 'Last 24 h and open work',
            schema: schemaOf(
              z.object({
                activeUsers24h: z.number().int(),
                trades24h: z.number().int(),
                volume24h: z.array(z.object({ asset: z.string(), amount: z.string() })),
                openTrades: z.number().int(),
                openDisputes: z.number().int(),
              }),
            ),
          },
          401: errors[401],
          403: { description: 'Not admin, or AUTH.SESSION_REQUIRED (an API key)' },
        },
      }),
    },
  },
  schemas,
);
