import type { Router } from 'express';
import { parse, requireRole, serviceRouter } from '@orrange/http';
import type { TradeExecutionService } from '../composition';
import { adminStats, marketStats } from '../data/stats.repository';
import { marketJson, volumesJson } from './stats.view';
import { emptyBody } from './schemas';

/** Statistics are aggregates over the last day: a replica's lag (REPLICA_LAG_MAX_MS) changes nothing that matters. */
export function statsRouter({ runtime }: TradeExecutionService): Router {
  const db = runtime.db.replicaReader;
  const router = serviceRouter();

  router.get('/api/v1/stats/markets', async (req, res) => {
    parse(emptyBody, req.query);
    res.json({ data: (await marketStats(db)).map(marketJson) });
  });

  router.get('/api/v1/admin/stats', requireRole('admin'), async (req, res) => {
    parse(emptyBody, req.query);
    const stats = await adminStats(db);
    res.json({
      activeUsers24h: stats.activeUsers,
      trades24h: stats.volumes.reduce((n, v) => n + v.trades, 0),
      volume24h: volumesJson(stats.volumes),
      openTrades: stats.openTrades,
      openDisputes: stats.openDisputes,
    });
  });

  return router;
}
