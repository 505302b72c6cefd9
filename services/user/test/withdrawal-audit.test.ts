import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { EventPayload } from '@orrange/queue';
import { identity } from './fixtures';
import { createHarness, type Harness } from './harness';

describe('audit log: withdrawal reviews from trade-execution', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await createHarness();
  });

  afterAll(() => harness.close());

  const deliver = (payload: EventPayload<'withdrawal.reviewed'>, id = randomUUID()) =>
    harness.runtime.consumer!.apply({ id, type: 'withdrawal.reviewed', occurredAt: new Date().toISOString(), payload });

  it('when an approval and a rejection arrive (the rejection twice, one event id), then the audit log holds each once with its admin, note and request id', async () => {
    const adminId = randomUUID();
    const approved = randomUUID();
    const rejected = randomUUID();
    await deliver({
      withdrawalId: approved,
      userId: randomUUID(),
      asset: 'BTC',
      amount: '0.50000000',
      decision: 'APPROVED',
      reviewedBy: adminId,
      note: null,
      requestId: 'req-1',
    });
    const eventId = randomUUID();
    const rejection = {
      withdrawalId: rejected,
      userId: randomUUID(),
      asset: 'USDT' as const,
      amount: '7000.000000',
      decision: 'REJECTED' as const,
      reviewedBy: adminId,
      note: 'sanctioned address',
      requestId: 'req-2',
    };
    await deliver(rejection, eventId);
    await deliver(rejection, eventId);
    const res = await request(harness.app())
      .get('/api/v1/admin/audit')
      .set(identity(harness, adminId, { roles: ['user', 'admin'] }));
    expect(res.status).toBe(200);
    const rows = res.body.data.filter((row: { action: string }) => row.action.startsWith('withdrawal.'));
    expect(rows).toEqual([
      expect.objectContaining({
        action: 'withdrawal.rejected',
        actorId: adminId,
        targetId: rejected,
        requestId: 'req-2',
        metadata: expect.objectContaining({ note: 'sanctioned address', amount: '7000.000000' }),
      }),
      expect.objectContaining({
        action: 'withdrawal.approved',
        actorId: adminId,
        targetId: approved,
        requestId: 'req-1',
      }),
    ]);
  });
});
