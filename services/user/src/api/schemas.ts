import { keyset, ROLES, SCOPES } from '@orrange/http';
import type { AuditRow } from '../data/audit.repository';
import { z } from 'zod';
import { COUNTRY_CODES } from './countries';

/** Request and response shapes of the user service; every body is strict (unknown fields → 400). */
const email = z.email().max(254);
const noControlChars = /^[^\p{Cc}]*$/u;

export const registerBody = z
  .object({
    email,
    username: z.string().regex(/^[A-Za-z0-9_]{3,32}$/, 'Usernames are 3–32 letters, digits or underscores.'),
    password: z.string().min(8).max(128),
  })
  .strict();

export const loginBody = z.object({ email, password: z.string().min(1).max(128) }).strict();

export const refreshBody = z.object({ refreshToken: z.string().min(1).max(256) }).strict();

export const profileBody = z
  .object({
    displayName: z.string().trim().min(1).max(64).regex(noControlChars, 'No control characters.').nullable().optional(),
    country: z.enum(COUNTRY_CODES, 'An ISO 3166-1 alpha-2 code such as "DE".').nullable().optional(),
    bio: z.string().max(500).nullable().optional(),
  })
  .strict();

export const statusBody = z.object({ status: z.enum(['ACTIVE', 'DISABLED']) }).strict();

export const rolesBody = z.object({ roles: z.array(z.enum(ROLES)).max(ROLES.length) }).strict();

export const apiKeyBody = z
  .object({
    name: z.string().trim().min(1).max(64).regex(noControlChars, 'No control characters.'),
    // `withdraw` only adds to `trade`: every request that moves something needs `trade` first.
    scopes: z
      .array(z.enum(SCOPES))
      .min(1)
      .max(SCOPES.length)
      .refine(
        (scopes) => !scopes.includes('withdraw') || scopes.includes('trade'),
        'The "withdraw" scope needs the "trade" scope beside it.',
      ),
  })
  .strict();

/** Payment details: free text up to 1,024 characters, or up to 20 string fields (names `[A-Za-z0-9_]{1,64}`, values ≤ 256). */
export const PAYMENT_DETAIL_FIELDS_MAX = 20;
const paymentDetails = z.union([
  z.string().min(1).max(1024),
  z
    .record(z.string().regex(/^[A-Za-z0-9_]{1,64}$/), z.string().min(1).max(256))
    .refine(
      (value) => Object.keys(value).length >= 1 && Object.keys(value).length <= PAYMENT_DETAIL_FIELDS_MAX,
      `1 to ${PAYMENT_DETAIL_FIELDS_MAX} fields.`,
    ),
]);

export const paymentMethodBody = z
  .object({
    type: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'A payment method type such as "SEPA" or "BANK_TRANSFER".'),
    label: z.string().trim().min(1).max(64).regex(noControlChars, 'No control characters.'),
    details: paymentDetails,
  })
  .strict();

export const resolveKeyBody = z.object({ keyHash: z.string().regex(/^[0-9a-f]{64}$/, 'sha256 hex') }).strict();

/** The audit log, newest first by id (the last row's id is the cursor's key). */
// At most 18 digits: every such id fits a bigint (19 could pass its maximum and reach the database as a 500).
export const auditOrder = keyset(z.object({ id: z.string().regex(/^\d{1,18}$/) }).strict(), (row: AuditRow) => ({
  id: row.id,
}));

const isoDate = z.string().describe('ISO-8601 UTC');
const role = z.enum(ROLES);
export const userSchema = z.object({
  id: z.string(),
  email: z.string(),
  username: z.string(),
  roles: z.array(role),
  createdAt: isoDate,
});
export const sessionSchema = z.object({
  user: userSchema,
  accessToken: z.string(),
  refreshToken: z.string(),
  tokenType: z.literal('Bearer'),
  expiresIn: z.number().int(),
});
export const tokensSchema = sessionSchema.omit({ user: true });
export const profileSchema = z.object({
  displayName: z.string().nullable(),
  country: z.string().nullable(),
  bio: z.string().nullable(),
});
export const statsSchema = z.object({
  tradesCompleted: z.number().int(),
  completionRate: z
    .string()
    .nullable()
    .describe(
      'completed / (completed + cancelled) as a decimal string with 4 places, "0.0000"–"1.0000"; null before any completed or cancelled trade',
    ),
  disputesLost: z.number().int(),
  feedbackPositive: z.number().int(),
  feedbackNegative: z.number().int(),
  distinctCounterparties: z
    .number()
    .int()
    .describe('different users this one completed a trade with (trades at or above REPUTATION_MIN_FIAT only)'),
  avgPaySeconds: z
    .number()
    .int()
    .nullable()
    .describe('average whole seconds from a trade opening to its buyer marking it paid, as the buyer; null before any'),
  avgReleaseSeconds: z
    .number()
    .int()
    .nullable()
    .describe('average whole seconds from paid to released, as the seller; null before any'),
  completionRate30d: z.string().nullable().describe('the completion rate of the last 30 days'),
});
export const meSchema = userSchema.extend({ profile: profileSchema, stats: statsSchema });
export const publicProfileSchema = z.object({
  id: z.string(),
  username: z.string(),
  profile: profileSchema,
  stats: statsSchema,
  createdAt: isoDate,
});
export const apiKeySchema = z.object({
  id: z.string(),
  name: z.string(),
  scopes: z.array(z.enum(SCOPES)),
  createdAt: isoDate,
  lastUsedAt: isoDate.nullable(),
});
export const createdApiKeySchema = apiKeySchema
  .omit({ lastUsedAt: true })
  .extend({ key: z.string().describe('Shown this once; store it now.') });
export const paymentMethodSchema = z.object({
  id: z.string(),
  type: z.string(),
  label: z.string(),
  details: paymentDetails,
  createdAt: isoDate,
});
export const auditEntrySchema = z.object({
  id: z.string(),
  at: isoDate,
  action: z.string(),
  actorId: z.string().nullable(),
  targetId: z.string().nullable(),
  ip: z.string().nullable(),
  requestId: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()),
});
