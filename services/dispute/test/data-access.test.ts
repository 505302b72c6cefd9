import { randomUUID } from 'node:crypto';
import type { Histogram } from 'prom-client';
import { enqueueEvent } from '@orrange/queue';
import { eventually } from '@orrange/testing';
import * as repo from '../src/data/dispute.repository';
import { createHarness, type Harness } from './harness';
import { openDispute, outboxRows } from './factories';

/**
 * The service's data access through its generated Prisma client over the runtime's pools (PrismaDatabase): the
 * Database's rules hold for it (retries, effects after commit, metrics), and shared SQL written through a Prisma
 * transaction (the outbox) commits or rolls back with it.
 */
describe('dispute data access through Prisma (real Postgres)', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness();
  });

  afterAll(() => h.close());

  const escalatedAt = async (id: string) =>
    (
      await h.runtime.db.query<{ escalated_at: Date | null }>('SELECT escalated_at FROM disputes WHERE id = $1', [id])
    )[0]!.escalated_at;

  it('when a transaction body fails after writing the case and the outbox, then neither write remains', async () => {
    const d = await openDispute(h);
    const failed = h.deps.db.transaction(async (tx) => {
      const disputeCase = (await repo.lockCase(tx, d.disputeId))!;
      await repo.markEscalated(tx, d.disputeId, new Date());
      await enqueueEvent(tx, 'dispute.escalated', {
        disputeId: d.disputeId,
        tradeId: disputeCase.tradeId,
        reason: 'UNASSIGNED_TOO_LONG',
      });
      throw new Error('the body fails after both writes');
    });
    await expect(failed).rejects.toThrow('the body fails after both writes');
    expect(await escalatedAt(d.disputeId)).toBeNull();
    expect(await outboxRows(h, 'dispute.escalated', d.disputeId)).toEqual([]);
  });

  it('when a retryable transaction meets a serialization failure, then it runs again and its effects after commit run once', async () => {
    const d = await openDispute(h);
    let attempts = 0;
    const effects: string[] = [];
    await h.deps.db.transaction(
      async (tx) => {
        attempts++;
        tx.afterCommit(() => effects.push(`attempt ${attempts}`));
        await repo.findCase(tx.client, d.disputeId);
        // Another session changes the case after this snapshot was taken: locking it fails with 40001, which Prisma
        // wraps in an error of its own.
        if (attempts === 1)
          await h.runtime.db.query("UPDATE disputes SET reason = 'changed meanwhile' WHERE id = $1", [d.disputeId]);
        await repo.lockCase(tx, d.disputeId);
        await repo.markEscalated(tx, d.disputeId, new Date());
      },
      { retryable: true, isolation: 'REPEATABLE READ' },
    );
    expect(attempts).toBe(2);
    expect(effects).toEqual(['attempt 2']);
    expect(await escalatedAt(d.disputeId)).not.toBeNull();
  });

  it('when the connection of a read is lost while it runs, then the read runs again and answers', async () => {
    const d = await openDispute(h);
    let attempts = 0;
    const disputeCase = await h.deps.db.query(async (client) => {
      attempts++;
      if (attempts === 1) {
        const lost = client.$queryRaw`SELECT pg_sleep(5)`.then(
          () => new Error('pg_sleep was not interrupted'),
          (error: unknown) => error,
        );
        await eventually(
          async () =>
            (
              await h.testDb.query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(5)%' AND pid <> pg_backend_pid()",
              )
            ).length > 0,
        );
        throw await lost;
      }
      return repo.findCase(client, d.disputeId);
    });
    expect(disputeCase?.tradeId).toBe(d.tradeId);
    expect(attempts).toBe(2);
  });

  it("when Prisma sends statements, then the Database's query metrics count them", async () => {
    const histogram = h.runtime.registry.getSingleMetric('db_query_duration_seconds') as Histogram;
    const count = async () =>
      (await histogram.get()).values.find((v) => v.metricName === 'db_query_duration_seconds_count')?.value ?? 0;
    const before = await count();
    await h.deps.db.query((client) => repo.findCase(client, randomUUID()));
    expect(await count()).toBe(before + 1);
  });
});
