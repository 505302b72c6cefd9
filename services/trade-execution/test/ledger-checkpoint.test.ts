import { randomUUID } from 'node:crypto';
import { AS_SYSTEM } from '@orrange/db';
import { advanceLedgerCheckpoint } from '../src/data/ledger-checkpoint.repository';
import { postMovementOrFail } from '../src/data/ledger.repository';
import { available, external, journalId } from '../src/domain/ledger';
import { fund, verify } from './factories';
import { createHarness, type Harness } from './harness';

/** /admin/ledger/verify reads the entries after the ledger's checkpoint, and the checkpoint's sums for the rest. */
describe('ledger checkpoints', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness();
  });

  afterAll(() => h.close());

  const checkpoint = async () =>
    (
      await h.runtime.db.query<{ through: string }>('SELECT through_entry_id::text AS through FROM ledger_checkpoint')
    )[0]!.through;
  // As the checkpoint reads it (a connection of another role would keep the checkpoint waiting: see its settle step).
  const lastEntry = async () =>
    (
      await h.runtime.db
        .withSettings(AS_SYSTEM)
        .primary.query<{ id: string }>('SELECT max(id)::text AS id FROM entries')
    )[0]!.id;

  it('when the checkpoint moves up to the newest entry, then verify still holds, and it reads the checkpoint for what lies below', async () => {
    await fund(h, 'cp-a', 'BTC', '1.5');
    await fund(h, 'cp-b', 'USDT', '250');
    expect((await verify(h)).ok).toBe(true);
    expect(await advanceLedgerCheckpoint(h.runtime.db)).toBeGreaterThan(0);
    expect(await checkpoint()).toBe(await lastEntry());
    expect(await advanceLedgerCheckpoint(h.runtime.db)).toBe(0);
    await fund(h, 'cp-a', 'BTC', '0.25');
    const after = await verify(h);
    expect(after.ok).toBe(true);
    expect(after.assets.find((a) => a.asset === 'BTC')).toMatchObject({ sum: '0.00000000', mismatchedAccounts: 0 });

    // A checkpoint sum that disagrees with its entries is what verify reports: it did not read those entries again.
    const [account] = await h.runtime.db.query<{ account_id: string }>(
      'SELECT account_id::text FROM ledger_checkpoint_totals LIMIT 1',
    );
    await h.runtime.db.query('UPDATE ledger_checkpoint_totals SET total = total + 1 WHERE account_id = $1', [
      account!.account_id,
    ]);
    expect((await verify(h)).ok).toBe(false);
    await h.runtime.db.query('UPDATE ledger_checkpoint_totals SET total = total - 1 WHERE account_id = $1', [
      account!.account_id,
    ]);
    expect((await verify(h)).ok).toBe(true);
  });

  it('when a movement holding lower entry ids commits after the checkpoint chose its last entry, then the checkpoint waits for it and counts it', async () => {
    const client = await h.runtime.db.primary.connect();
    try {
      await client.query('BEGIN');
      const id = randomUUID();
      await postMovementOrFail(
        { query: async (sql, params) => (await client.query(sql, params)).rows },
        {
          id: journalId('deposit', id),
          kind: 'DEPOSIT',
          ref: id,
          legs: [external('ETH', -3n * 10n ** 8n), available('cp-late', 'ETH', 3n * 10n ** 8n)],
        },
      );
      // Committed, with higher entry ids than the open movement's (another asset: no system account locked by both).
      await fund(h, 'cp-early', 'USDC', '1');
      let done = false;
      const advancing = advanceLedgerCheckpoint(h.runtime.db).finally(() => (done = true));
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(done).toBe(false);
      await client.query('COMMIT');
      expect(await advancing).toBeGreaterThan(0);
    } finally {
      client.release();
    }
    expect(await checkpoint()).toBe(await lastEntry());
    const result = await verify(h);
    expect(result.ok).toBe(true);
    expect(result.assets.find((a) => a.asset === 'ETH')).toMatchObject({ sum: '0.00000000', mismatchedAccounts: 0 });
  });
});
