import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { enqueueEvent } from '@orrange/queue';
import { eventually } from '@orrange/testing';
import { dueTimerCases } from '../src/data/dispute.repository';
import { DISPUTE_TIMERS, fireTimer } from '../src/domain/dispute.use-case';
import { createHarness, type Harness } from './harness';
import { as, disputedEvent, outboxRows } from './factories';

const EVIDENCE_WINDOW_SECONDS = 1.5;
const ASSIGNMENT_TIMEOUT_SECONDS = 1;

describe('dispute deadlines (short windows, the real sweepers, relay and consumer)', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness({
      EVIDENCE_WINDOW_HOURS: String(EVIDENCE_WINDOW_SECONDS / 3600),
      DISPUTE_ASSIGNMENT_TIMEOUT_MINUTES: String(ASSIGNMENT_TIMEOUT_SECONDS / 60),
      TIMER_SWEEP_MS: '100',
    });
    h.runtime.start();
  });

  afterAll(() => h.close());

  const api = () => request(h.app);
  const asAdmin = () => as(h, 'admin-1', ['user', 'admin']);

  /** Publishes trade.disputed through the outbox, relay and queue, as trade-execution's relay would. */
  async function dispute() {
    const { payload } = disputedEvent();
    await h.runtime.db.transaction((tx) => enqueueEvent(tx, 'trade.disputed', payload));
    h.runtime.relay.kick();
    await eventually(
      async () => (await api().get(`/api/v1/disputes/${payload.disputeId}`).set(asAdmin())).status === 200,
    );
    return payload;
  }

  it('when the windows pass, then a silent party is flagged and an unassigned case escalates, once each, and cases that moved on are left alone', async () => {
    const silentSeller = await dispute();
    const bothSpoke = await dispute();
    const resolvedEarly = await dispute();
    await api()
      .post(`/api/v1/disputes/${silentSeller.disputeId}/evidence`)
      .set(as(h, silentSeller.buyerId))
      .send({ body: 'I paid' })
      .expect(201);
    await api()
      .post(`/api/v1/disputes/${bothSpoke.disputeId}/assign`)
      .set(as(h, 'arb-1', ['arbitrator']))
      .send({})
      .expect(200);
    await api()
      .post(`/api/v1/disputes/${bothSpoke.disputeId}/evidence`)
      .set(as(h, bothSpoke.buyerId))
      .send({ body: 'I paid' })
      .expect(201);
    await api()
      .post(`/api/v1/disputes/${bothSpoke.disputeId}/evidence`)
      .set(as(h, bothSpoke.sellerId))
      .send({ body: 'I did not get it' })
      .expect(201);
    await api()
      .post(`/api/v1/disputes/${resolvedEarly.disputeId}/resolve`)
      .set(asAdmin())
      .send({ outcome: 'REFUND_SELLER', note: 'buyer withdrew' })
      .expect(200);

    const flagged = await eventually(async () => {
      const res = await api().get(`/api/v1/disputes/${silentSeller.disputeId}`).set(asAdmin());
      return res.body.evidenceClosedAt && res.body.escalatedAt ? res.body : null;
    });
    expect(flagged.defaultJudgmentAgainst).toEqual(['SELLER']);
    expect(flagged.status).toBe('OPEN');

    const spoke = await eventually(async () => {
      const res = await api().get(`/api/v1/disputes/${bothSpoke.disputeId}`).set(asAdmin());
      return res.body.evidenceClosedAt ? res.body : null;
    });
    expect(spoke).toMatchObject({ defaultJudgmentAgainst: [], escalatedAt: null, status: 'UNDER_REVIEW' });

    // Once the resolved case's deadlines have passed, sweep again: its timers change nothing.
    const { deadlines } = (await api().get(`/api/v1/disputes/${resolvedEarly.disputeId}`).set(asAdmin())).body;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(deadlines.evidenceUntil) - Date.now())));
    await Promise.all(h.runtime.sweepers.map((s) => s.sweepNow()));
    const early = (await api().get(`/api/v1/disputes/${resolvedEarly.disputeId}`).set(asAdmin())).body;
    expect(early).toMatchObject({ evidenceClosedAt: null, escalatedAt: null, defaultJudgmentAgainst: [] });

    const escalations = await outboxRows(h, 'dispute.escalated', silentSeller.disputeId);
    expect(escalations.map((r) => r.payload.reason).sort()).toEqual(['PARTY_SILENT', 'UNASSIGNED_TOO_LONG']);
    expect(await outboxRows(h, 'dispute.escalated', bothSpoke.disputeId)).toEqual([]);
    expect(await outboxRows(h, 'dispute.escalated', resolvedEarly.disputeId)).toEqual([]);

    const exported = await api().get(`/api/v1/disputes/${silentSeller.disputeId}/export`).set(asAdmin());
    expect(exported.body.verification).toEqual({ verified: true });
    expect(exported.body.journal.map((e: { action: string }) => e.action).sort()).toEqual([
      'ESCALATED',
      'EVIDENCE_ADDED',
      'FLAGGED_DEFAULT_JUDGMENT',
      'OPENED',
    ]);

    const metrics = (await api().get('/metrics')).text;
    expect(metrics).toMatch(/dispute_escalations_total\{reason="UNASSIGNED_TOO_LONG"[^}]*\} 1/);
    expect(metrics).toMatch(/dispute_escalations_total\{reason="PARTY_SILENT"[^}]*\} 1/);
    // Two evidence windows closed (one flagged, one where both spoke), one case escalated.
    expect(metrics).toMatch(/timers_fired_total\{timer="evidence-window"[^}]*\} 2/);
    expect(metrics).toMatch(/timers_fired_total\{timer="assignment-timeout"[^}]*\} 1/);
  });

  it('when both parties stay silent and the timers are swept again by racing replicas, then both are flagged once and nothing happens twice', async () => {
    const d = await dispute();
    await eventually(async () => (await outboxRows(h, 'dispute.escalated', d.disputeId)).length === 2);
    const before = (await api().get(`/api/v1/disputes/${d.disputeId}/export`).set(asAdmin())).body;
    expect(before.dispute.defaultJudgmentAgainst).toEqual(['BUYER', 'SELLER']);
    const again = await Promise.all([
      ...[1, 2, 3].flatMap(() => h.runtime.sweepers.map((s) => s.sweepNow())),
      ...[1, 2, 3].flatMap(() =>
        DISPUTE_TIMERS.map((timer) => h.deps.db.transaction((tx) => fireTimer(h.deps, tx, d.disputeId, timer))),
      ),
    ]);
    expect(again.filter((x) => x === true || (typeof x === 'number' && x > 0))).toEqual([]);
    // A dispute.deadline written by a version from before timers were rows is consumed and changes nothing.
    for (const kind of ['ASSIGNMENT', 'EVIDENCE_WINDOW']) {
      const event = {
        id: randomUUID(),
        type: 'dispute.deadline',
        occurredAt: new Date().toISOString(),
        payload: { disputeId: d.disputeId, kind },
      };
      expect(await h.runtime.consumer!.apply(event)).toBe('applied');
    }
    const after = (await api().get(`/api/v1/disputes/${d.disputeId}/export`).set(asAdmin())).body;
    expect(after.journal).toEqual(before.journal);
    expect(await outboxRows(h, 'dispute.escalated', d.disputeId)).toHaveLength(2);
  });

  it("when one case's timer cannot fire, then the other cases' timers still fire, and it can be left out of a sweep", async () => {
    const broken = await dispute();
    const healthy = await dispute();
    // A journal entry in the way of the next append: firing the broken case's timers fails and rolls back.
    await h.runtime.db.query(
      `INSERT INTO journal_entries (dispute_id, seq, action, actor_id, data, prev_hash, hash, created_at) VALUES ($1, 2, 'ESCALATED', NULL, '{}', 'x', 'y', now())`,
      [broken.disputeId],
    );
    await eventually(async () => (await outboxRows(h, 'dispute.escalated', healthy.disputeId)).length === 2);
    const view = (await api().get(`/api/v1/disputes/${broken.disputeId}`).set(asAdmin())).body;
    expect(view).toMatchObject({ evidenceClosedAt: null, escalatedAt: null });
    const due = (skip?: string[]) => h.deps.db.query((client) => dueTimerCases(client, 'evidence-window', 10, skip));
    expect(await due()).toContain(broken.disputeId);
    expect(await due([broken.disputeId])).not.toContain(broken.disputeId);
  });
});
