import request from 'supertest';
import { IDENTITY_HEADER, signIdentity, type Role } from '@orrange/http';
import { as, openDispute } from './factories';
import { createHarness, type Harness } from './harness';

/** What the gateway forwards for an API key of this user (its owner's roles, its scopes). */
function apiKey(h: Harness, userId: string, roles: Role[]): Record<string, string> {
  return {
    [IDENTITY_HEADER]: signIdentity(
      { userId, roles, scopes: ['read', 'trade', 'withdraw'], via: 'api-key' },
      h.runtime.config.INTERNAL_TOKEN_SECRET,
    ),
  };
}

describe('disputes: arbitration needs a session, never an API key', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness();
  });

  afterAll(() => h.close());

  const post = (id: string, action: string, headers: Record<string, string>, body: object) =>
    request(h.app).post(`/api/v1/disputes/${id}/${action}`).set(headers).send(body);
  const resolution = { outcome: 'REFUND_SELLER', note: 'decided by a bot' };

  it("when an arbitrator's or an admin's API key assigns a case, then 403 AUTH.SESSION_REQUIRED and the case stays unassigned", async () => {
    const d = await openDispute(h);
    for (const key of [apiKey(h, 'k-arb', ['user', 'arbitrator']), apiKey(h, 'k-admin', ['user', 'admin'])]) {
      const res = await post(d.disputeId, 'assign', key, { arbitratorId: 'k-arb' });
      expect(res.status).toBe(403);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.body.code).toBe('AUTH.SESSION_REQUIRED');
    }
    const [row] = await h.runtime.db.query<{ arbitrator_id: string | null }>(
      'SELECT arbitrator_id FROM disputes WHERE id = $1',
      [d.disputeId],
    );
    expect(row!.arbitrator_id).toBeNull();
  });

  it("when the assigned arbitrator's API key, or an admin's, resolves the case, then 403 AUTH.SESSION_REQUIRED and nothing is decided; the session may", async () => {
    const d = await openDispute(h);
    expect((await post(d.disputeId, 'assign', as(h, 'k-arb', ['user', 'arbitrator']), {})).status).toBe(200);
    for (const key of [apiKey(h, 'k-arb', ['user', 'arbitrator']), apiKey(h, 'k-admin', ['user', 'admin'])]) {
      const res = await post(d.disputeId, 'resolve', key, resolution);
      expect({ status: res.status, code: res.body.code }).toEqual({ status: 403, code: 'AUTH.SESSION_REQUIRED' });
    }
    expect(
      await h.runtime.db.query("SELECT 1 FROM outbox WHERE type = 'dispute.resolved' AND payload->>'disputeId' = $1", [
        d.disputeId,
      ]),
    ).toHaveLength(0);
    expect((await post(d.disputeId, 'resolve', as(h, 'k-arb', ['user', 'arbitrator']), resolution)).status).toBe(200);
  });

  it("when an arbitrator's API key reads cases, then it sees only its owner's own cases, as a plain user would", async () => {
    const d = await openDispute(h);
    const list = await request(h.app)
      .get('/api/v1/disputes')
      .set(apiKey(h, 'k-reader', ['user', 'arbitrator']));
    expect(list.status).toBe(200);
    expect(list.body.data.map((c: { id: string }) => c.id)).not.toContain(d.disputeId);
    expect(
      (
        await request(h.app)
          .get('/api/v1/disputes')
          .set(as(h, 'k-reader', ['user', 'arbitrator']))
      ).body.data.map((c: { id: string }) => c.id),
    ).toContain(d.disputeId);
  });
});
