import request from 'supertest';
import { evidenceTotals } from '../src/data/dispute.repository';
import { EVIDENCE_BYTES_PER_CASE_MAX, EVIDENCE_PER_CASE_MAX, evidenceBytes } from '../src/domain/dispute.use-case';
import { as, openDispute } from './factories';
import { createHarness, type Harness } from './harness';

describe('dispute evidence: bounded per case, in items and in size', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness();
  });

  afterAll(() => h.close());

  const add = (disputeId: string, userId: string, body: object) =>
    request(h.app).post(`/api/v1/disputes/${disputeId}/evidence`).set(as(h, userId)).send(body);
  const stored = async (disputeId: string) =>
    (
      await h.runtime.db.query<{ n: number }>('SELECT count(*)::int AS n FROM evidence WHERE dispute_id = $1', [
        disputeId,
      ])
    )[0]!.n;

  it("when a case's evidence would pass its size budget, then 409 DISPUTE.EVIDENCE_LIMIT and nothing is stored; what fits still goes in", async () => {
    const d = await openDispute(h);
    // The largest item the schema takes, near enough: 5,000 UTF-16 units of 4-byte characters and ten long attachments.
    const item = {
      body: '😀'.repeat(2_500),
      attachments: Array.from({ length: 10 }, (_, i) => ({
        name: `statement-${i}.pdf`,
        sha256: 'a'.repeat(64),
        url: `https://files.example.com/${'x'.repeat(1_900)}/${i}`,
      })),
    };
    const size = evidenceBytes(item);
    const fitting = Math.floor(EVIDENCE_BYTES_PER_CASE_MAX / size);
    expect(fitting).toBeLessThan(EVIDENCE_PER_CASE_MAX);
    for (let i = 0; i < fitting; i++)
      expect((await add(d.disputeId, i % 2 ? d.buyerId : d.sellerId, item)).status).toBe(201);
    const refused = await add(d.disputeId, d.buyerId, item);
    expect(refused.status).toBe(409);
    expect(refused.headers['content-type']).toContain('application/problem+json');
    expect(refused.body.code).toBe('DISPUTE.EVIDENCE_LIMIT');
    expect(await stored(d.disputeId)).toBe(fitting);
    // A short note still fits in what is left.
    expect((await add(d.disputeId, d.buyerId, { body: 'one more short note' })).status).toBe(201);
    const read = await request(h.app).get(`/api/v1/disputes/${d.disputeId}`).set(as(h, d.buyerId));
    expect(read.status).toBe(200);
    expect(Buffer.byteLength(read.text)).toBeLessThan(2 * EVIDENCE_BYTES_PER_CASE_MAX);
  });

  it('when the stored evidence is measured in SQL, then it counts exactly what the domain counts', async () => {
    const d = await openDispute(h);
    const items = [
      { body: 'plain' },
      {
        body: 'ünïcødé €',
        attachments: [
          { name: 'ä.pdf', sha256: 'b'.repeat(64) },
          { name: 'b.png', sha256: 'c'.repeat(64), url: 'https://example.com/b.png' },
        ],
      },
    ];
    for (const item of items) expect((await add(d.disputeId, d.sellerId, item)).status).toBe(201);
    const totals = await h.deps.db.transaction((tx) => evidenceTotals(tx, d.disputeId));
    expect(totals).toEqual({
      count: 2,
      bytes: items.reduce((sum, item) => sum + evidenceBytes({ attachments: [], ...item }), 0),
    });
  });
});
