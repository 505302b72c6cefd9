import type { Database, Tx } from '@orrange/db';
import type { EncryptionKeyring } from './sealing';

/**
 * One place where sealed values live (a table's sealed columns, or a sealed field inside a JSON column), as the
 * re-encryption after a key rotation sees it. Each service describes its own: only it knows its tables and the
 * AAD that binds each value to its row.
 */
export interface SealedColumn<Row extends { cursor: string }> {
  /** For the report, e.g. `trade.trade_messages.body`. */
  name: string;
  /**
   * Up to `limit` rows after `after` in cursor order whose value is not sealed under `activeKid` (plaintext left
   * from before the column was encrypted included), locked FOR UPDATE for the rest of the transaction.
   */
  stale(tx: Tx, activeKid: string, after: string | null, limit: number): Promise<Row[]>;
  /** Opens the row's value with whichever key sealed it and writes it again under the keyring's active key. */
  reseal(tx: Tx, keyring: EncryptionKeyring, row: Row): Promise<void>;
}

/**
 * A column of any row type, as a service lists them all for the re-encryption: `reseal` is a method, so its row
 * parameter is compared bivariantly and every `SealedColumn<Row>` fits.
 */
export type AnySealedColumn = SealedColumn<{ cursor: string }>;

export interface ResealReport {
  name: string;
  resealed: number;
  /** Rows that could not be opened (a key missing from the keyring, or data that fails authentication). */
  failed: number;
  firstFailure?: string;
}

/** Rows re-encrypted per transaction: short transactions, so the service keeps writing while the command runs. */
export const RESEAL_BATCH_ROWS = 500;

/**
 * Seals every value of one column under the active key, batch by batch, each batch in its own transaction. Running
 * it again finds nothing left to do; a row that cannot be opened is counted and skipped (the cursor moves past it),
 * so one bad row never stops the rest, and the report says the retired key cannot be removed yet.
 */
export async function resealColumn<Row extends { cursor: string }>(
  db: Database,
  keyring: EncryptionKeyring,
  column: SealedColumn<Row>,
  batchRows = RESEAL_BATCH_ROWS,
): Promise<ResealReport> {
  const report: ResealReport = { name: column.name, resealed: 0, failed: 0 };
  let after: string | null = null;
  for (;;) {
    const rows = await db.transaction(async (tx) => {
      const batch = await column.stale(tx, keyring.activeKid, after, batchRows);
      for (const row of batch) {
        try {
          await column.reseal(tx, keyring, row);
          report.resealed++;
        } catch (error) {
          // Opening failed before any statement was sent for this row: the transaction is intact.
          report.failed++;
          report.firstFailure ??= `${row.cursor}: ${(error as Error).message}`;
        }
      }
      return batch;
    });
    if (rows.length < batchRows) return report;
    after = rows[rows.length - 1]!.cursor;
  }
}
