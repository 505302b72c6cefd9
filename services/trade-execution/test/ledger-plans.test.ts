import { createHarness, type Harness } from './harness';

/**
 * The ledger's cost per posting must not grow with the ledger: every SELL order and every trade adds accounts,
 * so a posting that scanned "accounts" would get slower forever. This checks the plan, not the time.
 */
describe('ledger postings on a large ledger', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness();
    await h.runtime.db.query(`INSERT INTO accounts (kind, owner_id, ref_id, asset) SELECT 'HELD', 'u' || (g % 50), g::text, 'BTC' FROM generate_series(1, 5000) g`);
    await h.runtime.db.query('ANALYZE accounts');
  });

  afterAll(() => h.close());

  it("when a journal's legs are matched to their accounts, then each leg is an index lookup, never a scan of all accounts", async () => {
    const legs = JSON.stringify([
      { kind: 'AVAILABLE', owner: 'u1', asset: 'BTC', amount: '-1' },
      { kind: 'HELD', owner: 'u1', ref: '42', asset: 'BTC', amount: '1' },
    ]);
    // The join post_journal uses to lock, check and update the accounts of a journal.
    const [row] = await h.runtime.db.query<{ 'QUERY PLAN': unknown }>(
      `EXPLAIN (FORMAT JSON) SELECT a.id FROM accounts a JOIN journal_legs($1::jsonb) l USING (kind, owner_id, ref_id, asset) WHERE a.balance + l.delta >= 0`,
      [legs],
    );
    const scans = planNodes((row!['QUERY PLAN'] as Array<{ Plan: PlanNode }>)[0]!.Plan).filter((n) => n['Relation Name'] === 'accounts');
    expect(scans.map((n) => [n['Node Type'], n['Index Name']])).toEqual([['Index Scan', 'accounts_identity_key']]);
  });
});

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

function planNodes(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(planNodes)];
}
