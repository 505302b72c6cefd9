import type { Database } from '@orrange/db';
import type { Logger } from '@orrange/logger';
import type { Asset, FiatCurrency } from '@orrange/money';
import { listMarketRules, refreshTradesReference } from './market.repository';
import type { MarketRules } from '../domain/market-rules';

/**
 * Every market's rules in memory, so that a placement checks its price band and minimum without a statement: read
 * again every `reloadMs` (an admin's change on another replica is seen within it), and the trades' 24-hour median
 * recomputed every `medianMs` (by each replica: the statement writes only markets whose median moved).
 */
export class MarketRulesCache {
  private rules = new Map<string, MarketRules>();
  private timer: NodeJS.Timeout | undefined;
  private lastMedianAt = 0;

  constructor(private readonly options: { db: Database; logger: Logger; reloadMs: number; medianMs: number }) {}

  rulesFor(asset: Asset, fiatCurrency: FiatCurrency): MarketRules | undefined {
    return this.rules.get(`${asset}/${fiatCurrency}`);
  }

  /** Takes a change made here at once (an admin's PUT), before the next reload. */
  remember(rules: MarketRules): void {
    this.rules.set(`${rules.asset}/${rules.fiatCurrency}`, rules);
  }

  /** One refresh: the median when due, then every market's rules. */
  async reload(options: { median?: boolean } = {}): Promise<void> {
    if (options.median || Date.now() - this.lastMedianAt >= this.options.medianMs) {
      await refreshTradesReference(this.options.db);
      this.lastMedianAt = Date.now();
    }
    this.rules = new Map((await listMarketRules(this.options.db)).map((r) => [`${r.asset}/${r.fiatCurrency}`, r]));
  }

  start(): void {
    if (this.timer) return;
    const tick = () => {
      this.reload().catch((error: unknown) =>
        this.options.logger.warn('market rules not reloaded', {
          error: error instanceof Error ? error.message : String(error),
        }),
      );
    };
    tick();
    this.timer = setInterval(tick, this.options.reloadMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
