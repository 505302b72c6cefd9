import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { IDENTITY_HEADER, signIdentity } from '@orrange/http';
import { PermanentFailure } from '@orrange/queue';
import { seal } from '@orrange/secrets';
import { createHarness, type Harness } from './harness';
import { as, disputedEvent, openDispute, outboxRows } from './factories';

describe('disputes: cases, evidence, assignment, resolution (real Postgres and Redis)', () => {
  let h: Harness;
  const admin = 'admin-1';
  const arbitrator = 'arb-1';
  const otherArbitrator = 'arb-2';
  const stranger = 'stranger-1';

  beforeAll(async () => {
    h = await createHarness();
  });

  afterAll(() => h.close());

  const api = () => request(h.app);
  const asAdmin = () => as(h, admin, ['user', 'admin']);
  const asArb = (id = arbitrator) => as(h, id, ['user', 'arbitrator']);
  const get = (id: string, headers: Record<string, string>) => api().get(`/api/v1/disputes/${id}`).set(headers);
  const post = (id: string, action: string, headers: Record<string, string>, body: object = {}) =>
    api().post(`/api/v1/disputes/${id}/${action}`).set(headers).send(body);

  async function assignedDispute(overrides = {}) {
    const d = await openDispute(h, overrides);
    expect((await post(d.disputeId, 'assign', asArb())).status).toBe(200);
    return d;
  }

  describe('opening a case from trade.disputed', () => {
    it('when trade.disputed is delivered twice or with another event id, then there is one case, one journal entry and one pair of deadlines', async () => {
      const event = disputedEvent();
      expect(await h.runtime.consumer!.apply(event)).toBe('applied');
      expect(await h.runtime.consumer!.apply(event)).toBe('duplicate');
      expect(await h.runtime.consumer!.apply({ ...event, id: randomUUID() })).toBe('applied');
      const { disputeId, tradeId } = event.payload;
      expect(
        await h.runtime.db.query('SELECT count(*)::int AS n FROM disputes WHERE trade_id = $1', [tradeId]),
      ).toEqual([{ n: 1 }]);
      expect(
        await h.runtime.db.query('SELECT seq, action FROM journal_entries WHERE dispute_id = $1', [disputeId]),
      ).toEqual([{ seq: 1, action: 'OPENED' }]);
      // The deadlines are columns of the case (the timer sweepers fire them), not delayed events.
      const [deadlines] = await h.runtime.db.query<{ evidence: Date; assignment: Date }>(
        'SELECT evidence_deadline_at AS evidence, assignment_deadline_at AS assignment FROM disputes WHERE id = $1',
        [disputeId],
      );
      expect(deadlines!.evidence.getTime()).toBeGreaterThan(Date.now());
      expect(deadlines!.assignment.getTime()).toBeGreaterThan(Date.now());
      expect(await outboxRows(h, 'dispute.deadline', disputeId)).toEqual([]);
      const res = await get(disputeId, as(h, event.payload.buyerId));
      expect(res.body).toMatchObject({
        id: disputeId,
        tradeId,
        status: 'OPEN',
        arbitratorId: null,
        outcome: null,
        evidence: [],
        amount: '0.01500000',
        fiatAmount: '963.75',
        asset: 'BTC',
        resolvedAt: null,
      });
    });

    it('when several consumers apply copies of trade.disputed at once, then one case opens', async () => {
      const event = disputedEvent();
      const outcomes = await Promise.all(
        [event, event, { ...event, id: randomUUID() }, { ...event, id: randomUUID() }].map((e) =>
          h.runtime.consumer!.apply(e),
        ),
      );
      expect(outcomes.filter((o) => o === 'duplicate').length).toBeGreaterThanOrEqual(1);
      expect(
        await h.runtime.db.query('SELECT count(*)::int AS n FROM disputes WHERE trade_id = $1', [
          event.payload.tradeId,
        ]),
      ).toEqual([{ n: 1 }]);
      expect(
        await h.runtime.db.query('SELECT count(*)::int AS n FROM journal_entries WHERE dispute_id = $1', [
          event.payload.disputeId,
        ]),
      ).toEqual([{ n: 1 }]);
    });

    it('when an event names a trade amount finer than the asset allows, then it is refused and nothing is opened', async () => {
      const event = disputedEvent({ asset: 'USDT', amount: '1.1234567' });
      const refused = h.runtime.consumer!.apply(event);
      await expect(refused).rejects.toThrow(/decimals/);
      await expect(refused).rejects.toBeInstanceOf(PermanentFailure);
      expect(
        await h.runtime.db.query('SELECT count(*)::int AS n FROM disputes WHERE id = $1', [event.payload.disputeId]),
      ).toEqual([{ n: 0 }]);
    });
  });

  describe('the authorization matrix', () => {
    it('when each role reads a case, then parties, the assigned arbitrator and admins see it, others get 404', async () => {
      const d = await assignedDispute();
      expect((await get(d.disputeId, as(h, d.buyerId))).status).toBe(200);
      expect((await get(d.disputeId, as(h, d.sellerId))).status).toBe(200);
      expect((await get(d.disputeId, asArb())).status).toBe(200);
      expect((await get(d.disputeId, asAdmin())).status).toBe(200);
      const hidden = await get(d.disputeId, as(h, stranger));
      expect(hidden.status).toBe(404);
      expect(hidden.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(hidden.body.code).toBe('DISPUTE.NOT_FOUND');
      expect((await get(d.disputeId, asArb(otherArbitrator))).status).toBe(404);
      expect((await api().get(`/api/v1/disputes/${d.disputeId}`)).status).toBe(401);
      expect((await get(randomUUID(), asAdmin())).status).toBe(404);
    });

    it('when each role adds evidence, then parties and the assigned arbitrator may, admins 403, others 404', async () => {
      const d = await assignedDispute();
      const body = {
        body: 'Bank transfer receipt attached',
        attachments: [{ name: 'receipt.pdf', sha256: 'a'.repeat(64), url: 'https://files.example.com/r.pdf' }],
      };
      const byBuyer = await post(d.disputeId, 'evidence', as(h, d.buyerId), body);
      expect(byBuyer.status).toBe(201);
      expect(byBuyer.body).toMatchObject({
        authorId: d.buyerId,
        authorRole: 'BUYER',
        body: body.body,
        attachments: body.attachments,
      });
      expect((await post(d.disputeId, 'evidence', as(h, d.sellerId), { body: 'Nothing arrived' })).status).toBe(201);
      expect(
        (await post(d.disputeId, 'evidence', asArb(), { body: 'Please both upload statements' })).body.authorRole,
      ).toBe('ARBITRATOR');
      expect((await post(d.disputeId, 'evidence', asAdmin(), { body: 'x' })).status).toBe(403);
      expect((await post(d.disputeId, 'evidence', as(h, stranger), { body: 'x' })).status).toBe(404);
      expect((await post(d.disputeId, 'evidence', asArb(otherArbitrator), { body: 'x' })).status).toBe(404);
      const evidence = (await get(d.disputeId, as(h, d.sellerId))).body.evidence;
      expect(evidence.map((e: { authorRole: string }) => e.authorRole)).toEqual(['BUYER', 'SELLER', 'ARBITRATOR']);
    });

    it('when each role assigns, then an arbitrator takes a free case for themself, an admin assigns anyone, others are refused', async () => {
      const d = await openDispute(h);
      expect((await post(d.disputeId, 'assign', as(h, d.buyerId))).status).toBe(403);
      expect((await post(d.disputeId, 'assign', as(h, stranger))).status).toBe(404);
      expect((await post(d.disputeId, 'assign', asArb(), { arbitratorId: otherArbitrator })).status).toBe(403);
      const taken = await post(d.disputeId, 'assign', asArb());
      expect(taken.status).toBe(200);
      expect(taken.body).toMatchObject({ status: 'UNDER_REVIEW', arbitratorId: arbitrator });
      expect((await post(d.disputeId, 'assign', asArb())).status).toBe(200);
      const second = await post(d.disputeId, 'assign', asArb(otherArbitrator));
      expect(second.status).toBe(409);
      expect(second.body.code).toBe('DISPUTE.ALREADY_ASSIGNED');
      const party = await post(d.disputeId, 'assign', asAdmin(), { arbitratorId: d.sellerId });
      expect(party.status).toBe(403);
      expect(party.body.code).toBe('DISPUTE.CONFLICT_OF_INTEREST');
      const reassigned = await post(d.disputeId, 'assign', asAdmin(), { arbitratorId: otherArbitrator });
      expect(reassigned.body).toMatchObject({ status: 'UNDER_REVIEW', arbitratorId: otherArbitrator });
      expect((await get(d.disputeId, asArb())).status).toBe(404);
      expect((await outboxRows(h, 'dispute.assigned', d.disputeId)).map((r) => r.payload)).toEqual([
        { disputeId: d.disputeId, tradeId: d.tradeId, arbitratorId: arbitrator },
        { disputeId: d.disputeId, tradeId: d.tradeId, arbitratorId: otherArbitrator },
      ]);
    });

    it('when each role resolves, then only the assigned arbitrator or an admin may, once', async () => {
      const d = await assignedDispute();
      const decision = { outcome: 'RELEASE_TO_BUYER', note: 'Payment proven by bank statement' };
      expect((await post(d.disputeId, 'resolve', as(h, d.buyerId), decision)).status).toBe(403);
      expect((await post(d.disputeId, 'resolve', as(h, stranger), decision)).status).toBe(404);
      expect((await post(d.disputeId, 'resolve', asArb(otherArbitrator), decision)).status).toBe(404);
      const resolved = await post(d.disputeId, 'resolve', asArb(), decision);
      expect(resolved.status).toBe(200);
      expect(resolved.body).toMatchObject({
        status: 'RESOLVED',
        outcome: 'RELEASE_TO_BUYER',
        buyerAmount: null,
        settlement: { buyerAmount: '0.01500000', sellerAmount: '0.00000000' },
        resolvedBy: arbitrator,
      });
      expect(resolved.body.resolvedAt).toEqual(expect.any(String));
      const again = await post(d.disputeId, 'resolve', asAdmin(), { outcome: 'REFUND_SELLER', note: 'second opinion' });
      expect(again.status).toBe(409);
      expect(again.body.code).toBe('DISPUTE.ALREADY_RESOLVED');
      expect((await post(d.disputeId, 'evidence', as(h, d.buyerId), { body: 'late' })).status).toBe(409);
      expect((await post(d.disputeId, 'assign', asAdmin(), { arbitratorId: otherArbitrator })).status).toBe(409);
      expect((await outboxRows(h, 'dispute.resolved', d.disputeId)).map((r) => r.payload)).toEqual([
        {
          disputeId: d.disputeId,
          tradeId: d.tradeId,
          outcome: 'RELEASE_TO_BUYER',
          buyerAmount: null,
          resolvedBy: arbitrator,
        },
      ]);
    });

    it('when an admin resolves an unassigned case with a SPLIT, then the buyer gets buyerAmount and the seller the rest', async () => {
      const d = await openDispute(h, { asset: 'USDT', amount: '250.5' });
      const res = await post(d.disputeId, 'resolve', asAdmin(), {
        outcome: 'SPLIT',
        buyerAmount: '100.25',
        note: 'Half the payment arrived',
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        status: 'RESOLVED',
        buyerAmount: '100.250000',
        settlement: { buyerAmount: '100.250000', sellerAmount: '150.250000' },
      });
      expect((await outboxRows(h, 'dispute.resolved', d.disputeId))[0]!.payload).toMatchObject({
        outcome: 'SPLIT',
        buyerAmount: '100.250000',
        resolvedBy: admin,
      });
    });

    it('when an arbitrator calls with a read-only API key, then resolving is refused and nothing changes', async () => {
      const d = await assignedDispute();
      const readOnly = {
        [IDENTITY_HEADER]: signIdentity(
          { userId: arbitrator, roles: ['arbitrator'], scopes: ['read'], via: 'api-key' },
          h.runtime.config.INTERNAL_TOKEN_SECRET,
        ),
      };
      expect((await get(d.disputeId, readOnly)).status).toBe(200);
      const res = await post(d.disputeId, 'resolve', readOnly, { outcome: 'REFUND_SELLER', note: 'n' });
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('AUTH.SCOPE_MISSING');
      expect(await outboxRows(h, 'dispute.resolved', d.disputeId)).toEqual([]);
    });

    it('when an admin is a party to the trade, then they may not resolve it', async () => {
      const d = await openDispute(h, { buyerId: admin, openedBy: admin });
      const res = await post(d.disputeId, 'resolve', asAdmin(), { outcome: 'RELEASE_TO_BUYER', note: 'mine' });
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('DISPUTE.CONFLICT_OF_INTEREST');
    });

    it('when each role exports, then the assigned arbitrator and admins get the verified journal, parties 403, others 404', async () => {
      const d = await assignedDispute();
      await post(d.disputeId, 'evidence', as(h, d.sellerId), { body: 'My bank shows nothing' });
      expect((await api().get(`/api/v1/disputes/${d.disputeId}/export`).set(as(h, d.buyerId))).status).toBe(403);
      expect((await api().get(`/api/v1/disputes/${d.disputeId}/export`).set(as(h, stranger))).status).toBe(404);
      expect((await api().get(`/api/v1/disputes/${d.disputeId}/export`).set(asArb(otherArbitrator))).status).toBe(404);
      expect((await api().get(`/api/v1/disputes/${d.disputeId}/export`).set(asAdmin())).status).toBe(200);
      const res = await api().get(`/api/v1/disputes/${d.disputeId}/export`).set(asArb());
      expect(res.status).toBe(200);
      expect(res.body.verification).toEqual({ verified: true });
      expect(res.body.dispute.evidence).toHaveLength(1);
      expect(res.body.journal.map((e: { seq: number; action: string }) => [e.seq, e.action])).toEqual([
        [1, 'OPENED'],
        [2, 'ASSIGNED'],
        [3, 'EVIDENCE_ADDED'],
      ]);
    });

    it('when each role lists, then users see their own cases, arbitrators and admins all, filtered and paginated', async () => {
      const buyerId = `lister-${randomUUID().slice(0, 8)}`;
      const mine = [
        await openDispute(h, { buyerId, openedBy: buyerId }),
        await openDispute(h, { sellerId: buyerId }),
        await openDispute(h, { buyerId, openedBy: buyerId }),
      ];
      await post(mine[2]!.disputeId, 'assign', asArb());
      const own = await api().get('/api/v1/disputes?limit=100').set(as(h, buyerId));
      expect(own.status).toBe(200);
      expect(own.body.data.map((d: { id: string }) => d.id).sort()).toEqual(mine.map((d) => d.disputeId).sort());
      expect(own.body.data[0].evidence).toBeUndefined();
      expect((await api().get('/api/v1/disputes').set(as(h, stranger))).body).toEqual({ data: [], nextCursor: null });
      const open = await api().get('/api/v1/disputes?status=UNDER_REVIEW&limit=100').set(as(h, buyerId));
      expect(open.body.data.map((d: { id: string }) => d.id)).toEqual([mine[2]!.disputeId]);

      const total = (await h.runtime.db.query<{ n: number }>('SELECT count(*)::int AS n FROM disputes'))[0]!.n;
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: request.Response = await api()
          .get(`/api/v1/disputes?limit=2${cursor ? `&cursor=${cursor}` : ''}`)
          .set(asArb(otherArbitrator));
        expect(page.status).toBe(200);
        seen.push(...page.body.data.map((d: { id: string }) => d.id));
        cursor = page.body.nextCursor;
      } while (cursor);
      expect(seen).toHaveLength(total);
      expect(new Set(seen).size).toBe(total);
      expect((await api().get('/api/v1/disputes').set(asAdmin())).body.data.length).toBe(Math.min(20, total));
    });
  });

  describe('racing and repeated resolutions', () => {
    it('when the assigned arbitrator and an admin resolve at once, then exactly one wins and one dispute.resolved is written', async () => {
      for (let round = 0; round < 5; round++) {
        const d = await assignedDispute();
        const [a, b] = await Promise.all([
          post(d.disputeId, 'resolve', asArb(), { outcome: 'RELEASE_TO_BUYER', note: 'buyer paid' }),
          post(d.disputeId, 'resolve', asAdmin(), { outcome: 'REFUND_SELLER', note: 'seller is right' }),
        ]);
        expect([a.status, b.status].sort()).toEqual([200, 409]);
        expect(await outboxRows(h, 'dispute.resolved', d.disputeId)).toHaveLength(1);
        const [row] = await h.runtime.db.query<{ outcome: string }>('SELECT outcome FROM disputes WHERE id = $1', [
          d.disputeId,
        ]);
        expect(row!.outcome).toBe((a.status === 200 ? a : b).body.outcome);
      }
    });

    it('when a resolution is retried with the same Idempotency-Key, then the first answer is replayed and nothing happens twice', async () => {
      const d = await assignedDispute();
      const key = randomUUID();
      const body = { outcome: 'REFUND_SELLER', note: 'no payment' };
      const first = await post(d.disputeId, 'resolve', { ...asArb(), 'Idempotency-Key': key }, body);
      const replay = await post(d.disputeId, 'resolve', { ...asArb(), 'Idempotency-Key': key }, body);
      expect(first.status).toBe(200);
      expect(replay.status).toBe(200);
      expect(replay.headers['idempotency-replayed']).toBe('true');
      expect(replay.body).toEqual(first.body);
      expect(await outboxRows(h, 'dispute.resolved', d.disputeId)).toHaveLength(1);
      const reused = await post(
        d.disputeId,
        'resolve',
        { ...asArb(), 'Idempotency-Key': key },
        { ...body, note: 'changed' },
      );
      expect(reused.status).toBe(422);
    });
  });

  describe('bad input', () => {
    async function snapshot(id: string) {
      return h.runtime.db.query(
        "SELECT status, outcome, buyer_amount, arbitrator_id, journal_seq, (SELECT count(*)::int FROM evidence WHERE dispute_id = $1) AS evidence, (SELECT count(*)::int FROM outbox WHERE payload->>'disputeId' = $1) AS events FROM disputes WHERE id = $1",
        [id],
      );
    }

    it.each([
      ['an unknown field', { outcome: 'REFUND_SELLER', note: 'n', status: 'OPEN' }],
      ['buyerAmount with too many decimals for BTC', { outcome: 'SPLIT', buyerAmount: '0.000000001', note: 'n' }],
      ['buyerAmount above the amount', { outcome: 'SPLIT', buyerAmount: '0.01500001', note: 'n' }],
      ['a zero buyerAmount', { outcome: 'SPLIT', buyerAmount: '0', note: 'n' }],
      ['a SPLIT without buyerAmount', { outcome: 'SPLIT', note: 'n' }],
      ['a buyerAmount without SPLIT', { outcome: 'RELEASE_TO_BUYER', buyerAmount: '0.01', note: 'n' }],
      ['a numeric buyerAmount', { outcome: 'SPLIT', buyerAmount: 0.01, note: 'n' }],
      ['an exponent', { outcome: 'SPLIT', buyerAmount: '1e-3', note: 'n' }],
      ['an unknown outcome', { outcome: 'KEEP_IT', note: 'n' }],
      ['an empty note', { outcome: 'REFUND_SELLER', note: '' }],
      ['a note too long', { outcome: 'REFUND_SELLER', note: 'x'.repeat(2001) }],
    ])('when a resolution has %s, then 400 problem+json and nothing changes', async (_name, body) => {
      const d = await assignedDispute();
      const before = await snapshot(d.disputeId);
      const res = await post(d.disputeId, 'resolve', asArb(), body);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.body.code).toBe('VALIDATION.FAILED');
      expect(await snapshot(d.disputeId)).toEqual(before);
    });

    it('when a USDT split names 7 decimals, then 400 (the asset allows 6)', async () => {
      const d = await openDispute(h, { asset: 'USDT', amount: '10' });
      const res = await post(d.disputeId, 'resolve', asAdmin(), {
        outcome: 'SPLIT',
        buyerAmount: '1.1234567',
        note: 'n',
      });
      expect(res.status).toBe(400);
      expect(res.body.errors[0].path).toBe('buyerAmount');
      expect(res.body.errors[0].message).toMatch(/at most 6 decimals/);
    });

    it.each([
      ['an unknown field', { body: 'x', authorRole: 'ADMIN' }],
      ['an empty body', { body: '' }],
      ['a body too long', { body: 'x'.repeat(5001) }],
      ['a NUL character', { body: 'a\u0000b' }],
      ['a bad sha256', { body: 'x', attachments: [{ name: 'a', sha256: 'abc' }] }],
      ['an http url', { body: 'x', attachments: [{ name: 'a', sha256: 'b'.repeat(64), url: 'http://example.com/a' }] }],
      [
        'a javascript url',
        { body: 'x', attachments: [{ name: 'a', sha256: 'b'.repeat(64), url: 'javascript:alert(1)' }] },
      ],
      [
        'eleven attachments',
        { body: 'x', attachments: Array.from({ length: 11 }, (_, i) => ({ name: `f${i}`, sha256: 'c'.repeat(64) })) },
      ],
      ['an unknown attachment field', { body: 'x', attachments: [{ name: 'a', sha256: 'd'.repeat(64), size: 3 }] }],
    ])('when evidence has %s, then 400 and nothing changes', async (_name, body) => {
      const d = await openDispute(h);
      const before = await snapshot(d.disputeId);
      const res = await post(d.disputeId, 'evidence', as(h, d.buyerId), body);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(await snapshot(d.disputeId)).toEqual(before);
    });

    it('when ids, queries or assignment bodies are malformed, then 400', async () => {
      const d = await openDispute(h);
      expect((await get('not-a-uuid', asAdmin())).status).toBe(400);
      expect((await post('not-a-uuid', 'resolve', asAdmin(), { outcome: 'REFUND_SELLER', note: 'n' })).status).toBe(
        400,
      );
      expect((await api().get('/api/v1/disputes/1%27%20OR%201=1/export').set(asAdmin())).status).toBe(400);
      expect(
        (await post(d.disputeId, 'assign', asAdmin(), { arbitratorId: arbitrator, status: 'RESOLVED' })).status,
      ).toBe(400);
      expect((await api().get('/api/v1/disputes?status=DONE').set(asAdmin())).status).toBe(400);
      expect((await api().get('/api/v1/disputes?limit=0').set(asAdmin())).status).toBe(400);
      expect((await api().get('/api/v1/disputes?limit=101').set(asAdmin())).status).toBe(400);
      expect((await api().get('/api/v1/disputes?cursor=garbage').set(asAdmin())).status).toBe(400);
      expect((await api().get('/api/v1/disputes?userId=x').set(asAdmin())).status).toBe(400);
      expect((await snapshot(d.disputeId))[0]).toMatchObject({ status: 'OPEN', arbitrator_id: null });
    });
  });

  describe('the tamper-evident journal', () => {
    it('when a journal row is rewritten in SQL, then it is refused, and once forced the export shows where the chain breaks', async () => {
      const d = await assignedDispute();
      await post(d.disputeId, 'evidence', as(h, d.buyerId), { body: 'I sent 963.75 USD on Monday' });
      await post(d.disputeId, 'evidence', as(h, d.sellerId), { body: 'Nothing arrived' });
      await expect(
        h.runtime.db.query(
          "UPDATE journal_entries SET data = jsonb_set(data, '{body}', '\"I sent nothing\"') WHERE dispute_id = $1 AND seq = 3",
          [d.disputeId],
        ),
      ).rejects.toThrow(/append-only/);
      await expect(
        h.runtime.db.query(
          "UPDATE journal_entries SET data = jsonb_set(data, '{authorRole}', '\"SELLER\"') WHERE dispute_id = $1 AND seq = 3",
          [d.disputeId],
        ),
      ).rejects.toThrow(/append-only/);

      // The service's own role cannot turn the guard off (it owns no table: issue 17).
      await expect(
        h.runtime.db.query('ALTER TABLE journal_entries DISABLE TRIGGER journal_entries_reseal_only'),
      ).rejects.toThrow(/must be owner/);
      // Someone with the owner's rights (not the service's role) turns the guard off and edits history (the content is
      // sealed: they edit what is not).
      await h.testDb.transaction(async (tx) => {
        await tx.query('ALTER TABLE journal_entries DISABLE TRIGGER journal_entries_reseal_only');
        await tx.query(
          "UPDATE journal_entries SET data = jsonb_set(data, '{authorRole}', '\"SELLER\"') WHERE dispute_id = $1 AND seq = 3",
          [d.disputeId],
        );
        await tx.query('ALTER TABLE journal_entries ENABLE TRIGGER journal_entries_reseal_only');
      });
      const res = await api().get(`/api/v1/disputes/${d.disputeId}/export`).set(asAdmin());
      expect(res.status).toBe(200);
      expect(res.body.verification).toMatchObject({ verified: false, brokenAt: 3 });
    });

    it('when an evidence row is sealed again with other content behind the journal, then the export names it', async () => {
      const d = await assignedDispute();
      const added = await post(d.disputeId, 'evidence', as(h, d.buyerId), {
        body: 'Receipt',
        attachments: [{ name: 'r.pdf', sha256: 'e'.repeat(64) }],
      });
      expect((await api().get(`/api/v1/disputes/${d.disputeId}/export`).set(asAdmin())).body.verification).toEqual({
        verified: true,
      });
      // Whoever holds the key may re-seal a row (key rotation does), but not change what it says unnoticed.
      const forged = { body: 'Receipt', attachments: [{ name: 'r.pdf', sha256: 'f'.repeat(64) }] };
      const s = seal(h.deps.keyring, JSON.stringify(forged), `dispute-evidence:v1:${d.disputeId}:${added.body.id}`);
      await h.runtime.db.query('UPDATE evidence SET key_id = $2, iv = $3, tag = $4, ciphertext = $5 WHERE id = $1', [
        added.body.id,
        s.keyId,
        s.iv,
        s.tag,
        s.ciphertext,
      ]);
      const res = await api().get(`/api/v1/disputes/${d.disputeId}/export`).set(asAdmin());
      expect(res.body.verification).toEqual({ verified: false, evidenceMismatch: [added.body.id] });
    });

    it('when the last journal entry is deleted, then the export detects the truncation', async () => {
      const d = await assignedDispute();
      await h.testDb.transaction(async (tx) => {
        await tx.query('ALTER TABLE journal_entries DISABLE TRIGGER journal_entries_append_only');
        await tx.query('DELETE FROM journal_entries WHERE dispute_id = $1 AND seq = 2', [d.disputeId]);
        await tx.query('ALTER TABLE journal_entries ENABLE TRIGGER journal_entries_append_only');
      });
      expect((await api().get(`/api/v1/disputes/${d.disputeId}/export`).set(asAdmin())).body.verification).toEqual({
        verified: false,
        brokenAt: 2,
      });
    });

    it('when many actions race on one case, then the chain stays linear and verifies', async () => {
      const d = await assignedDispute();
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          post(d.disputeId, 'evidence', as(h, i % 2 ? d.buyerId : d.sellerId), { body: `statement ${i}` }),
        ),
      );
      expect(results.map((r) => r.status)).toEqual(Array(12).fill(201));
      const res = await api().get(`/api/v1/disputes/${d.disputeId}/export`).set(asArb());
      expect(res.body.journal.map((e: { seq: number }) => e.seq)).toEqual(Array.from({ length: 14 }, (_, i) => i + 1));
      expect(res.body.verification).toEqual({ verified: true });
    });
  });

  describe('settlement and metrics', () => {
    it('when trade-execution reports trade.resolved, then the case records the settlement once', async () => {
      const d = await assignedDispute();
      await post(d.disputeId, 'resolve', asArb(), { outcome: 'SPLIT', buyerAmount: '0.005', note: 'half' });
      const event = {
        id: randomUUID(),
        type: 'trade.resolved',
        occurredAt: new Date().toISOString(),
        payload: {
          tradeId: d.tradeId,
          disputeId: d.disputeId,
          outcome: 'SPLIT',
          buyerId: d.buyerId,
          sellerId: d.sellerId,
          buyerAmount: '0.005',
          sellerAmount: '0.01',
        },
      };
      expect(await h.runtime.consumer!.apply(event)).toBe('applied');
      expect(await h.runtime.consumer!.apply({ ...event, id: randomUUID() })).toBe('applied');
      const res = await api().get(`/api/v1/disputes/${d.disputeId}/export`).set(asAdmin());
      expect(res.body.dispute.settledAt).toEqual(expect.any(String));
      const settled = res.body.journal.filter((e: { action: string }) => e.action === 'SETTLED');
      expect(settled).toHaveLength(1);
      expect(settled[0].data).toMatchObject({ matchesDecision: true });
    });

    it('when /metrics is scraped, then cases by status and arbitration timings are there', async () => {
      const text = (await api().get('/metrics')).text;
      expect(text).toMatch(/dispute_cases\{status="OPEN"[^}]*\} \d+/);
      expect(text).toMatch(/dispute_cases\{status="RESOLVED"[^}]*\} [1-9]/);
      expect(text).toMatch(/dispute_time_to_assignment_seconds_count(\{[^}]*\})? [1-9]/);
      expect(text).toMatch(/dispute_time_to_resolution_seconds_count(\{[^}]*\})? [1-9]/);
      expect(text).toContain('dispute_escalations_total');
    });
  });
});
