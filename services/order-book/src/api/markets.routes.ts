import type { Router } from 'express';
import { z } from 'zod';
import { notFound, parse, requireRole, requireSession, serviceRouter, wireUnits } from '@orrange/http';
import { assetSchema, FIAT_SCALE, fiatSchema, positiveDecimal } from '@orrange/money';
import type { Database } from '@orrange/db';
import { listMarketRules, saveMarketRules } from '../data/market.repository';
import { marketView } from '../domain/market-rules';
import type { OrderBookDeps } from '../domain/order-book.deps';

/** PUT /admin/markets/:asset/:fiatCurrency: null clears a value (the reference price then comes from trades again). */
export const marketRulesBody = z
  .object({
    referencePrice: positiveDecimal(FIAT_SCALE).nullable().optional(),
    minFiat: positiveDecimal(FIAT_SCALE).nullable().optional(),
  })
  .strict()
  .refine((b) => b.referencePrice !== undefined || b.minFiat !== undefined, {
    message: 'must set referencePrice or minFiat',
    path: [],
  });

const marketParams = z.object({ asset: assetSchema, fiatCurrency: fiatSchema }).strict();

/** API.md "Trading essentials": the markets' rules (public), and an admin's changes to them. */
export function marketsRouter({ db, deps }: { db: Database; deps: OrderBookDeps }): Router {
  const router = serviceRouter();

  router.get('/api/v1/markets', async (_req, res) => {
    res.json({ data: (await listMarketRules(db)).map(marketView) });
  });

  // Admin actions need a session, never an API key (requireSession), and the admin role.
  router.put('/api/v1/admin/markets/:asset/:fiatCurrency', requireSession, requireRole('admin'), async (req, res) => {
    const params = marketParams.safeParse(req.params);
    if (!params.success)
      throw notFound('MARKET.NOT_FOUND', 'No such market: the asset or the fiat currency is not supported.');
    const body = parse(marketRulesBody, req.body);
    const cents = (path: 'referencePrice' | 'minFiat', v: string | null | undefined) =>
      v === undefined ? undefined : v === null ? null : wireUnits(v, FIAT_SCALE, path);
    const rules = await saveMarketRules(db, params.data.asset, params.data.fiatCurrency, {
      referencePrice: cents('referencePrice', body.referencePrice),
      minFiat: cents('minFiat', body.minFiat),
    });
    deps.markets.remember(rules);
    res.json(marketView(rules));
  });

  return router;
}
