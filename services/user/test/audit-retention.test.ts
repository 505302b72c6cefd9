import { createHarness, type Harness } from './harness';

describe('audit log retention (AUDIT_LOG_RETENTION_DAYS)', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await createHarness({ AUDIT_LOG_RETENTION_DAYS: '30' });
  });

  afterAll(() => harness.close());

  it('when audit rows are older than the retention, then the sweep deletes them and keeps the younger ones', async () => {
    await harness.runtime.db.query(
      `INSERT INTO audit_log (action, target_id, at) VALUES ('user.registered', 'old', now() - interval '31 days'), ('user.registered', 'young', now() - interval '29 days')`,
    );
    const retention = harness.runtime.sweepers.find((s) => s.name === 'audit-log-retention')!;
    expect(await retention.sweepNow()).toBe(1);
    expect(
      await harness.runtime.db.query("SELECT target_id FROM audit_log WHERE target_id IN ('old', 'young')"),
    ).toEqual([{ target_id: 'young' }]);
  });

  it('when no retention is set (the default), then the audit log is kept whole: no sweep is made', async () => {
    const keeping = await createHarness();
    try {
      expect(keeping.config.AUDIT_LOG_RETENTION_DAYS).toBe(0);
      expect(keeping.runtime.sweepers.map((s) => s.name)).not.toContain('audit-log-retention');
    } finally {
      await keeping.close();
    }
  });
});
