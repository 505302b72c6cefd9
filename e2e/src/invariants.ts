import { ASSETS, ASSET_SCALES, toUnits, type Asset } from '@orrange/money';
import type { Api } from './client';

/**
 * The product's money invariants, checked through the public API only:
 * - the admin ledger verification says every asset's accounts sum to zero and nothing is negative;
 * - a user's `held` balance equals the remainder of their live SELL orders (once events have settled).
 */
export async function expectLedgerBalanced(admin: Api): Promise<void> {
  const res = await admin.get('/api/v1/admin/ledger/verify');
  expect(res.status).toBe(200);
  expect(res.body.ok).toBe(true);
  for (const asset of res.body.assets) expect(/^-?0(\.0+)?$/.test(String(asset.sum))).toBe(true);
}

export async function balances(
  user: Api,
): Promise<Record<Asset, { available: bigint; held: bigint; inEscrow: bigint }>> {
  const res = await user.get('/api/v1/wallet/balances');
  expect(res.status).toBe(200);
  const out = {} as Record<Asset, { available: bigint; held: bigint; inEscrow: bigint }>;
  for (const asset of ASSETS) out[asset] = { available: 0n, held: 0n, inEscrow: 0n };
  for (const row of res.body.data as Array<{ asset: Asset; available: string; held: string; inEscrow: string }>) {
    const scale = ASSET_SCALES[row.asset];
    out[row.asset] = {
      available: toUnits(row.available, scale),
      held: toUnits(row.held, scale),
      inEscrow: toUnits(row.inEscrow, scale),
    };
  }
  return out;
}

export async function liveSellRemainder(user: Api, asset: Asset): Promise<bigint> {
  let total = 0n;
  for (const status of ['OPEN', 'PARTIALLY_FILLED']) {
    let cursor: string | null = null;
    do {
      const res: {
        status: number;
        body: { data: Array<{ side: string; asset: Asset; remaining: string }>; nextCursor: string | null };
      } = await user.get(
        `/api/v1/orders/mine?status=${status}&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      expect(res.status).toBe(200);
      for (const order of res.body.data)
        if (order.side === 'SELL' && order.asset === asset) total += toUnits(order.remaining, ASSET_SCALES[asset]);
      cursor = res.body.nextCursor;
    } while (cursor);
  }
  return total;
}
