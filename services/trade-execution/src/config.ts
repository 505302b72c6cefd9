import {
  assertNoDevSecrets,
  databaseRoleSchema,
  baseServiceSchema,
  env,
  loadConfig,
  serviceInfo,
  z,
} from '@orrange/config';
import { encryptionSchema } from '@orrange/secrets';
import { ASSET_SCALES, ASSETS, isPositiveDecimal, toUnits, type Asset } from '@orrange/money';
import { BTC_NETWORKS, EVM_NETWORKS } from './domain/addresses/addresses';

export const SCHEMA = serviceInfo('trade-execution').schema;

const BPS_MAX = 10_000;
/** The simulated provider's development secrets: refused in production (so is the provider itself). */
export const DEV_CUSTODY_WEBHOOK_SECRET = 'dev-custody-webhook-secret-change-me-0123456789';
const DEV_SIMULATED_ADDRESS_KEY = 'dev-simulated-custody-address-key';

/**
 * A per-asset list, `BTC:0.5,ETH:10,USDT:20000,USDC:20000`, into a value per asset: every asset named once, and
 * every value accepted by `parse` (undefined refuses it; `expected` says what was wanted).
 */
function perAsset<V>(fallback: string, expected: string, parse: (value: string, asset: Asset) => V | undefined) {
  return z
    .string()
    .default(fallback)
    .transform((spec, ctx) => {
      const values = {} as Record<Asset, V>;
      for (const item of spec
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)) {
        const [name = '', value = ''] = item.split(':').map((s) => s.trim());
        const asset = ASSETS.find((known) => known === name);
        const parsed = asset === undefined || values[asset] !== undefined ? undefined : parse(value, asset);
        if (asset === undefined || parsed === undefined) {
          ctx.addIssue({ code: 'custom', message: `"${item}" is not ${expected}` });
          return z.NEVER;
        }
        values[asset] = parsed;
      }
      const missing = ASSETS.filter((asset) => values[asset] === undefined);
      if (missing.length) ctx.addIssue({ code: 'custom', message: `missing ${missing.join(', ')}` });
      return values;
    });
}

/** Amounts per asset in minor units: a decimal of at most the asset's scale, positive (or zero where `zeroAllowed`). */
function perAssetAmounts(fallback: string, zeroAllowed: boolean) {
  return perAsset(fallback, 'ASSET:amount with a known asset, once, and at most its decimals', (amount, asset) => {
    if (zeroAllowed && /^0(\.0+)?$/.test(amount)) return 0n;
    return isPositiveDecimal(amount, ASSET_SCALES[asset]) ? toUnits(amount, ASSET_SCALES[asset]) : undefined;
  });
}

/** Confirmations per asset, `BTC:2,ETH:12,…`: a deposit is credited once it has this many. */
function perAssetCounts(fallback: string) {
  return perAsset(fallback, 'ASSET:count with a known asset, once, and 1–9999', (count) =>
    /^\d{1,4}$/.test(count) && Number(count) >= 1 ? Number(count) : undefined,
  );
}

export const configSchema = baseServiceSchema
  .extend(databaseRoleSchema('trade-execution').shape)
  .extend(encryptionSchema.shape)
  .extend({
    PORT: env.port(serviceInfo('trade-execution').port),
    /** Trade fee in basis points of the crypto amount, taken from the buyer's side into FEES on completion. */
    TRADE_FEE_BPS: z.coerce.number().int().min(0).max(BPS_MAX).default(0),
    /**
     * How long one "minute" of a payment window lasts. Only tests shorten it (e.g. 200 ms, so a 15-minute window
     * passes in 3 s); production refuses anything but 60000.
     */
    PAYMENT_MINUTE_MS: z.coerce.number().int().min(1).max(60_000).default(60_000),
    /** How often the sweeper looks for trades whose payment deadline has passed (deadlines are rows, not jobs). */
    TIMER_SWEEP_MS: z.coerce.number().int().min(50).max(60_000).default(1_000),
    /**
     * How often the ledger's checkpoint is moved up to the newest entry, so that /admin/ledger/verify reads only the
     * entries after it (see advanceLedgerCheckpoint).
     */
    LEDGER_CHECKPOINT_INTERVAL_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(600_000),

    /** Which custody provider moves money in and out: `simulated` (inside the stack, development) or `http`. */
    CUSTODY_PROVIDER: z.enum(['simulated', 'http']).default('simulated'),
    /** Signs and verifies custody webhooks (`X-Orrange-Signature`); both sides hold it. */
    CUSTODY_WEBHOOK_SECRET: z.string().min(24).default(DEV_CUSTODY_WEBHOOK_SECRET),
    /** The simulated provider derives deposit addresses as HMAC(key, user and asset). */
    CUSTODY_SIMULATED_ADDRESS_KEY: z.string().min(16).default(DEV_SIMULATED_ADDRESS_KEY),
    /** The simulated provider reports an accepted withdrawal broadcast after this long, and confirmed this long after that. */
    CUSTODY_SIMULATED_BROADCAST_MS: z.coerce.number().int().min(0).max(3_600_000).default(2_000),
    CUSTODY_SIMULATED_CONFIRM_MS: z.coerce.number().int().min(0).max(3_600_000).default(3_000),
    /** The `http` provider: its base URL and API key, per-call timeout, and attempts per send (with backoff). */
    CUSTODY_URL: z.string().url().optional(),
    CUSTODY_API_KEY: z.string().min(1).optional(),
    CUSTODY_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
    CUSTODY_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),
    /** How often approved withdrawals are sent to custody (and the simulated chain reports what is due). */
    CUSTODY_SWEEP_MS: z.coerce.number().int().min(50).max(60_000).default(1_000),
    BTC_NETWORK: z.enum(BTC_NETWORKS).default('mainnet'),
    EVM_NETWORK: z.enum(EVM_NETWORKS).default('mainnet'),
    DEPOSIT_CONFIRMATIONS: perAssetCounts('BTC:2,ETH:12,USDT:12,USDC:12'),
    /** Fee per withdrawal and asset, moved to FEES when the withdrawal is confirmed (returned with it otherwise). */
    WITHDRAWAL_FEES: perAssetAmounts('BTC:0.0002,ETH:0.002,USDT:1,USDC:1', true),
    /** A withdrawal up to this amount is approved at once; above it an admin reviews it. */
    WITHDRAWAL_AUTO_APPROVE_MAX: perAssetAmounts('BTC:0.1,ETH:2,USDT:5000,USDC:5000', true),
    /** What one user may withdraw per asset in 24 h (every withdrawal not rejected, cancelled or failed counts). */
    WITHDRAWAL_DAILY_MAX: perAssetAmounts('BTC:2,ETH:50,USDT:100000,USDC:100000', false),
  })
  .refine((c) => c.NODE_ENV !== 'production' || c.PAYMENT_MINUTE_MS === 60_000, {
    message: 'PAYMENT_MINUTE_MS must be 60000 in production',
    path: ['PAYMENT_MINUTE_MS'],
  })
  .refine((c) => c.NODE_ENV !== 'production' || c.CUSTODY_PROVIDER !== 'simulated', {
    message: 'the simulated custody is refused in production: set CUSTODY_PROVIDER=http',
    path: ['CUSTODY_PROVIDER'],
  })
  .refine((c) => c.NODE_ENV !== 'production' || c.CUSTODY_WEBHOOK_SECRET !== DEV_CUSTODY_WEBHOOK_SECRET, {
    message: 'a development secret must not be used in production (set a real one)',
    path: ['CUSTODY_WEBHOOK_SECRET'],
  })
  .refine((c) => c.CUSTODY_PROVIDER !== 'http' || (c.CUSTODY_URL !== undefined && c.CUSTODY_API_KEY !== undefined), {
    message: 'the http custody needs CUSTODY_URL and CUSTODY_API_KEY',
    path: ['CUSTODY_URL'],
  });

export type Config = z.infer<typeof configSchema>;

/** Reads the service's config once at boot and refuses production with any development secret. */
export function readConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const config = loadConfig(configSchema, source);
  assertNoDevSecrets(config, source);
  return config;
}
