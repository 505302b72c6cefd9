import type { SqlRunner } from '@orrange/db';
import { ASSET_SCALES, fromUnits, numericUnits, type Asset } from '@orrange/money';
import type { Deposit, DepositAddress } from '../domain/deposit';

/** How a webhook's address is looked up: bech32 and hex are case-insensitive, Base58Check is not. */
export function addressKey(address: string): string {
  return /^(0x|bc1|tb1|bcrt1)/i.test(address) ? address.toLowerCase() : address;
}

export async function findDepositAddress(
  db: SqlRunner,
  userId: string,
  asset: Asset,
  network: string,
): Promise<DepositAddress | undefined> {
  const [row] = await db.query<DepositAddress>(
    'SELECT asset, network, address FROM deposit_addresses WHERE user_id = $1 AND asset = $2 AND network = $3',
    [userId, asset, network],
  );
  return row;
}

/** Records a user's address; the first one recorded wins (a concurrent request's is the same, or is dropped). */
export async function saveDepositAddress(db: SqlRunner, userId: string, address: DepositAddress): Promise<void> {
  await db.query(
    `INSERT INTO deposit_addresses (user_id, asset, network, address, address_key) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT DO NOTHING`,
    [userId, address.asset, address.network, address.address, addressKey(address.address)],
  );
}

export async function ownerOfAddress(
  db: SqlRunner,
  asset: Asset,
  network: string,
  address: string,
): Promise<string | undefined> {
  const [row] = await db.query<{ user_id: string }>(
    'SELECT user_id FROM deposit_addresses WHERE asset = $1 AND network = $2 AND address_key = $3',
    [asset, network, addressKey(address)],
  );
  return row?.user_id;
}

type RawDeposit = {
  id: string;
  user_id: string;
  asset: Asset;
  amount: string;
  address: string | null;
  txid: string | null;
  output_index: number | null;
  confirmations: number;
  status: 'PENDING' | 'CREDITED';
  created_at: Date;
};
const DEPOSIT_COLUMNS =
  'id, user_id, asset, amount::text, address, txid, output_index, confirmations, status, created_at';

const toDeposit = (r: RawDeposit): Deposit => ({
  id: r.id,
  userId: r.user_id,
  asset: r.asset,
  amount: numericUnits(r.amount, ASSET_SCALES[r.asset]),
  address: r.address,
  txid: r.txid,
  index: r.output_index,
  confirmations: r.confirmations,
  status: r.status,
  createdAt: r.created_at,
});

/**
 * Records an output reported by custody, or raises its confirmations if it is known: one row per
 * (asset, txid, output index) whatever the deliveries (the unique index; concurrent ones wait on the row).
 * Returns the row as it is now, to be compared with the report.
 */
export async function upsertCustodyDeposit(
  tx: SqlRunner,
  deposit: {
    id: string;
    userId: string;
    asset: Asset;
    amount: bigint;
    address: string;
    txid: string;
    index: number;
    confirmations: number;
  },
): Promise<Deposit> {
  const [row] = await tx.query<RawDeposit>(
    `INSERT INTO deposits (id, user_id, asset, amount, status, source, address, txid, output_index, confirmations)
     VALUES ($1, $2, $3, $4, 'PENDING', 'CUSTODY', $5, $6, $7, $8)
     ON CONFLICT (asset, txid, output_index) DO UPDATE
       SET confirmations = greatest(deposits.confirmations, excluded.confirmations), updated_at = now()
     RETURNING ${DEPOSIT_COLUMNS}`,
    [
      deposit.id,
      deposit.userId,
      deposit.asset,
      fromUnits(deposit.amount, ASSET_SCALES[deposit.asset]),
      deposit.address,
      deposit.txid,
      deposit.index,
      deposit.confirmations,
    ],
  );
  return toDeposit(row!);
}

/** PENDING → CREDITED once it has `required` confirmations; true for the one call that made the change. */
export async function markDepositCredited(tx: SqlRunner, id: string, required: number): Promise<boolean> {
  const rows = await tx.query(
    `UPDATE deposits SET status = 'CREDITED', credited_at = now(), updated_at = now() WHERE id = $1 AND status = 'PENDING' AND confirmations >= $2 RETURNING id`,
    [id, required],
  );
  return rows.length === 1;
}

export async function insertFaucetDeposit(
  tx: SqlRunner,
  id: string,
  userId: string,
  asset: Asset,
  units: bigint,
): Promise<void> {
  await tx.query(
    `INSERT INTO deposits (id, user_id, asset, amount, status, source, credited_at) VALUES ($1, $2, $3, $4, 'CREDITED', 'FAUCET', now())`,
    [id, userId, asset, fromUnits(units, ASSET_SCALES[asset])],
  );
}

/** The user's deposits, newest first; the cursor is the last row's (createdAt, id). */
export async function depositsOf(
  db: SqlRunner,
  userId: string,
  limit: number,
  before: { at: string; id: string } | null,
): Promise<Deposit[]> {
  const rows = await db.query<RawDeposit>(
    `SELECT ${DEPOSIT_COLUMNS} FROM deposits
     WHERE user_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid))
     ORDER BY created_at DESC, id DESC LIMIT $4`,
    [userId, before?.at ?? null, before?.id ?? null, limit],
  );
  return rows.map(toDeposit);
}

/** Bodies are kept up to this size: enough to investigate, bounded whatever a signed sender posts. */
const REJECTED_BODY_CHARS_MAX = 16_384;

export async function keepRejectedEvent(
  db: SqlRunner,
  rejection: { reason: string; detail: string; eventId: string | null; body: string },
): Promise<void> {
  await db.query('INSERT INTO custody_rejected_events (reason, detail, event_id, body) VALUES ($1, $2, $3, $4)', [
    rejection.reason,
    rejection.detail.slice(0, 1000),
    rejection.eventId?.slice(0, 200) ?? null,
    rejection.body.slice(0, REJECTED_BODY_CHARS_MAX),
  ]);
}
