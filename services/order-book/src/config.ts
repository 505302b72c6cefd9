import {
  assertNoDevSecrets,
  databaseRoleSchema,
  baseServiceSchema,
  env,
  loadConfig,
  serviceInfo,
  z,
} from '@orrange/config';
import type { Limits } from './domain/limits';

export const SCHEMA = serviceInfo('order-book').schema;

const limit = (fallback: number) => z.coerce.number().int().min(1).max(1_000_000).default(fallback);

export const configSchema = baseServiceSchema.extend(databaseRoleSchema('order-book').shape).extend({
  PORT: env.port(serviceInfo('order-book').port),
  /** Open orders (pending, open or partly filled, paused included) an account may have: ORDER.LIMIT_REACHED beyond. */
  ORDERS_OPEN_MAX: limit(50),
  /** Open trades (awaiting payment, paid or disputed) a buyer may have: TRADE.LIMIT_REACHED beyond. */
  TRADES_OPEN_AS_BUYER_MAX: limit(10),
  /** Cancelled or expired trades of a buyer within 24 h that suspend their buying until 24 h after the last. */
  BUYER_CANCELS_MAX: z.coerce.number().int().min(1).max(20).default(3),
  /** The merchant role's own limits, as venues give their verified merchants. */
  MERCHANT_ORDERS_OPEN_MAX: limit(1000),
  MERCHANT_TRADES_OPEN_MAX: limit(1000),
  /** How often the sweeper looks for orders past their expiresAt (expiry is a row, not a job). */
  ORDER_EXPIRY_SWEEP_MS: z.coerce.number().int().min(50).max(60_000).default(1_000),
  /**
   * How long an order that finds its market's queue empty waits for other orders of its market before its
   * transaction starts, in a market whose orders come close together (see MarketBatcher). 0: it goes at once.
   */
  ORDER_BATCH_WINDOW_MS: z.coerce.number().int().min(0).max(50).default(4),
  /** How often each replica reads every market's rules again (an admin's change elsewhere is seen within it). */
  MARKET_RULES_RELOAD_MS: z.coerce.number().int().min(100).max(600_000).default(5_000),
  /** How often the markets' reference price from trades (median of the last 24 h of matches) is recomputed. */
  MARKET_REFERENCE_REFRESH_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(60_000),
});

export type Config = z.infer<typeof configSchema>;

const settingsSchema = configSchema.pick({
  ORDERS_OPEN_MAX: true,
  TRADES_OPEN_AS_BUYER_MAX: true,
  BUYER_CANCELS_MAX: true,
  MERCHANT_ORDERS_OPEN_MAX: true,
  MERCHANT_TRADES_OPEN_MAX: true,
  ORDER_EXPIRY_SWEEP_MS: true,
  ORDER_BATCH_WINDOW_MS: true,
  MARKET_RULES_RELOAD_MS: true,
  MARKET_REFERENCE_REFRESH_MS: true,
});

/** The order book's own settings: the abuse limits, the market rules cache's timings, the expiry sweep's interval, the batch window. */
export interface OrderBookSettings {
  limits: Limits;
  marketRules: { reloadMs: number; medianMs: number };
  expirySweepMs: number;
  batchWindowMs: number;
}

/** The order book's settings of a config the runtime holds (read once at boot: the runtime keeps the parsed object it was given). */
export function settingsOf(config: object): OrderBookSettings {
  const c = settingsSchema.parse(config);
  return {
    limits: {
      ordersOpenMax: c.ORDERS_OPEN_MAX,
      merchantOrdersOpenMax: c.MERCHANT_ORDERS_OPEN_MAX,
      tradesOpenAsBuyerMax: c.TRADES_OPEN_AS_BUYER_MAX,
      merchantTradesOpenMax: c.MERCHANT_TRADES_OPEN_MAX,
      buyerCancelsMax: c.BUYER_CANCELS_MAX,
    },
    marketRules: { reloadMs: c.MARKET_RULES_RELOAD_MS, medianMs: c.MARKET_REFERENCE_REFRESH_MS },
    expirySweepMs: c.ORDER_EXPIRY_SWEEP_MS,
    batchWindowMs: c.ORDER_BATCH_WINDOW_MS,
  };
}

/** Reads the service's config once at boot and refuses production with any development secret. */
export function readConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const config = loadConfig(configSchema, source);
  assertNoDevSecrets(config, source);
  return config;
}
