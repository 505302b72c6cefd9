import type { SqlRunner } from '@orrange/db';
import { ASSETS, ASSET_SCALES, numericUnits, type Asset } from '@orrange/money';
import {
  assertBalanced,
  journalsJson,
  legsJson,
  type Balance,
  type LedgerLine,
  type Movement,
  type PostOutcome,
} from '../domain/ledger';

/**
 * Posts one movement: one round trip to the post_journal SQL function, which locks the touched accounts in id
 * order, refuses duplicates and overdrafts, and writes journal, entries and balances. Must run inside the
 * caller's transaction so the movement commits together with whatever it is for.
 */
export async function postMovement(tx: SqlRunner, movement: Movement): Promise<PostOutcome> {
  assertBalanced(movement);
  const [row] = await tx.query<{ outcome: PostOutcome }>('SELECT post_journal($1, $2, $3, $4::jsonb) AS outcome', [
    movement.id,
    movement.kind,
    movement.ref,
    legsJson(movement.legs),
  ]);
  return row!.outcome;
}

/**
 * Posts several movements in one round trip to the post_journals SQL function, which locks every account any of
 * them touches in id order first, then posts each in order exactly as postMovement would: a later movement sees
 * the balances the earlier ones left, and an INSUFFICIENT one leaves nothing of itself behind without stopping
 * the others. The outcomes come in the order of the movements.
 */
export async function postMovements(tx: SqlRunner, movements: Movement[]): Promise<PostOutcome[]> {
  if (movements.length === 0) return [];
  for (const movement of movements) assertBalanced(movement);
  const [row] = await tx.query<{ outcomes: PostOutcome[] }>('SELECT post_journals($1::jsonb) AS outcomes', [
    journalsJson(movements),
  ]);
  const outcomes = row!.outcomes;
  if (outcomes.length !== movements.length)
    throw new Error(`ledger invariant: ${movements.length} movements answered ${outcomes.length} outcomes`);
  return outcomes;
}

/** Like postMovement for movements that cannot legitimately fail (escrow settlements): anything but OK is a bug. */
export async function postMovementOrFail(tx: SqlRunner, movement: Movement): Promise<void> {
  const outcome = await postMovement(tx, movement);
  if (outcome !== 'OK')
    throw new Error(`ledger invariant: movement ${movement.kind}:${movement.ref} answered ${outcome}`);
}

export async function balancesOf(db: SqlRunner, userId: string): Promise<Balance[]> {
  const rows = await db.query<{ asset: Asset; kind: string; total: string }>(
    `SELECT asset, kind, sum(balance)::text AS total FROM accounts
     WHERE owner_id = $1 AND kind IN ('AVAILABLE', 'HELD', 'ESCROW') GROUP BY asset, kind`,
    [userId],
  );
  return ASSETS.map((asset) => {
    const of = (kind: string) =>
      numericUnits(rows.find((r) => r.asset === asset && r.kind === kind)?.total ?? '0', ASSET_SCALES[asset]);
    return { asset, available: of('AVAILABLE'), held: of('HELD'), inEscrow: of('ESCROW') };
  });
}

/** The caller's entries, newest first; the cursor is the last entry id seen. */
export async function ledgerOf(
  db: SqlRunner,
  userId: string,
  limit: number,
  beforeId: string | null,
): Promise<LedgerLine[]> {
  const rows = await db.query<{
    id: string;
    journal_id: string;
    type: string;
    ref: string;
    account: string;
    ref_id: string;
    asset: Asset;
    amount: string;
    created_at: Date;
  }>(
    `SELECT e.id::text, e.journal_id, j.kind AS type, j.ref, a.kind AS account, a.ref_id, e.asset, e.amount::text, e.created_at
     FROM accounts a
     JOIN entries e ON e.account_id = a.id
     JOIN journals j ON j.id = e.journal_id
     WHERE a.owner_id = $1 AND ($2::bigint IS NULL OR e.id < $2::bigint)
     ORDER BY e.id DESC LIMIT $3`,
    [userId, beforeId, limit],
  );
  return rows.map((r) => ({
    id: r.id,
    journalId: r.journal_id,
    type: r.type,
    ref: r.ref,
    account: r.account,
    accountRef: r.ref_id || null,
    asset: r.asset,
    amount: numericUnits(r.amount, ASSET_SCALES[r.asset]),
    createdAt: r.created_at,
  }));
}

/** The ledger's checks for one asset; sums in its minor units (each must be 0), the other numbers counts (each 0). */
export interface AssetVerification {
  asset: Asset;
  sum: bigint;
  entriesSum: bigint;
  accounts: number;
  negativeAccounts: number;
  mismatchedAccounts: number;
  unbalancedJournals: number;
}

/**
 * The double-entry invariant on the live ledger, in one consistent snapshot: per asset the balances sum to 0,
 * the entries sum to 0, no account but EXTERNAL is negative, every balance equals the sum of its entries,
 * and every journal balances. Entries up to the ledger's checkpoint count through its sums (see
 * advanceLedgerCheckpoint): only the entries after it are read, so the check stays fast however long the ledger.
 */
export async function verifyLedger(tx: SqlRunner): Promise<AssetVerification[]> {
  // The checkpoint's entry id, read by each statement itself, so that all four go in one round trip.
  const through = '(SELECT through_entry_id FROM ledger_checkpoint)';
  const statements = [
    { sql: 'SELECT unbalanced_journals AS unbalanced FROM ledger_checkpoint' },
    {
      sql: `SELECT a.asset, sum(a.balance)::text AS sum, count(*)::int AS accounts,
              count(*) FILTER (WHERE a.kind <> 'EXTERNAL' AND a.balance < 0)::int AS negative,
              count(*) FILTER (WHERE a.balance <> coalesce(t.total, 0) + coalesce(e.total, 0))::int AS mismatched
            FROM accounts a
            LEFT JOIN ledger_checkpoint_totals t ON t.account_id = a.id
            LEFT JOIN (SELECT account_id, sum(amount) AS total FROM entries WHERE id > ${through} GROUP BY account_id) e ON e.account_id = a.id
            GROUP BY a.asset`,
    },
    {
      sql: `SELECT asset, sum(total)::text AS sum FROM (
              SELECT key AS asset, value::numeric AS total FROM ledger_checkpoint, jsonb_each_text(entry_sums)
              UNION ALL SELECT asset, amount FROM entries WHERE id > ${through}) s
            GROUP BY asset`,
    },
    {
      // Journals with an entry after the checkpoint (all of their entries); the others were checked by it.
      sql: `SELECT asset, count(*)::int AS n FROM (
              SELECT journal_id, asset FROM entries WHERE journal_id IN (SELECT journal_id FROM entries WHERE id > ${through})
              GROUP BY journal_id, asset HAVING sum(amount) <> 0) t
            GROUP BY asset`,
    },
  ];
  const [[checkpoint], rows, entries, unbalanced] = (
    tx.queries ? await tx.queries(statements) : await Promise.all(statements.map((s) => tx.query(s.sql)))
  ) as [
    Array<{ unbalanced: Record<string, number> }>,
    Array<{ asset: Asset; sum: string; accounts: number; negative: number; mismatched: number }>,
    Array<{ asset: Asset; sum: string }>,
    Array<{ asset: Asset; n: number }>,
  ];
  return ASSETS.map((asset) => {
    const row = rows.find((r) => r.asset === asset);
    const scale = ASSET_SCALES[asset];
    return {
      asset,
      sum: numericUnits(row?.sum ?? '0', scale),
      entriesSum: numericUnits(entries.find((e) => e.asset === asset)?.sum ?? '0', scale),
      accounts: row?.accounts ?? 0,
      negativeAccounts: row?.negative ?? 0,
      mismatchedAccounts: row?.mismatched ?? 0,
      unbalancedJournals: (unbalanced.find((u) => u.asset === asset)?.n ?? 0) + (checkpoint?.unbalanced[asset] ?? 0),
    };
  });
}
