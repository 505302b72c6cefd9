import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { resealColumn } from '@orrange/secrets';
import { nextEntry } from '../src/domain/journal';
import { SEALED_COLUMNS } from '../src/sealed-columns';
import { as, openDispute } from './factories';
import { createHarness, type Harness } from './harness';

const CARD = '4111 1111 1111 1111';
const IBAN = 'DE89 3704 0044 0532 0130 00';

describe('dispute evidence at rest: sealed in the database, in the clear through the API', () => {
  let h: Harness;
  const admin = () => as(h, 'admin-1', ['user', 'admin']);

  beforeAll(async () => {
    h = await createHarness();
  });

  afterAll(() => h.close());

  /** Every column of the case's evidence, journal and stored answers as text (bytea as latin1), joined. */
  async function storedText(disputeId: string): Promise<string> {
    const rows = [
      ...(await h.runtime.db.query('SELECT * FROM evidence WHERE dispute_id = $1', [disputeId])),
      ...(await h.runtime.db.query('SELECT * FROM journal_entries WHERE dispute_id = $1', [disputeId])),
      ...(await h.runtime.db.query('SELECT * FROM idempotency_keys')),
    ];
    return JSON.stringify(rows, (_key, value) =>
      value?.type === 'Buffer' ? Buffer.from(value.data).toString('latin1') : value,
    );
  }

  it('when a party submits bank details, then neither the item, its journal copy nor the stored answer holds them, and reads and the export show them', async () => {
    const d = await openDispute(h);
    const item = {
      body: `I paid from card ${CARD} to ${IBAN}`,
      attachments: [{ name: `receipt ${IBAN}.pdf`, sha256: 'a'.repeat(64), url: 'https://files.example.com/r.pdf' }],
    };
    const key = randomUUID();
    const added = await request(h.app)
      .post(`/api/v1/disputes/${d.disputeId}/evidence`)
      .set(as(h, d.buyerId))
      .set('idempotency-key', key)
      .send(item);
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject(item);
    const replay = await request(h.app)
      .post(`/api/v1/disputes/${d.disputeId}/evidence`)
      .set(as(h, d.buyerId))
      .set('idempotency-key', key)
      .send(item);
    expect(replay.body).toEqual(added.body);

    const text = await storedText(d.disputeId);
    for (const secret of ['4111', 'DE89']) expect(text).not.toContain(secret);
    const [row] = await h.runtime.db.query<{ body: string | null; key_id: string; content_bytes: number }>(
      'SELECT body, key_id, content_bytes FROM evidence WHERE id = $1',
      [added.body.id],
    );
    expect(row).toMatchObject({ body: null, key_id: 'dev1' });

    const read = await request(h.app).get(`/api/v1/disputes/${d.disputeId}`).set(as(h, d.sellerId));
    expect(read.body.evidence).toEqual([added.body]);
    const exported = await request(h.app).get(`/api/v1/disputes/${d.disputeId}/export`).set(admin());
    expect(exported.body.verification).toEqual({ verified: true });
    expect(exported.body.journal[1]).toMatchObject({
      action: 'EVIDENCE_ADDED',
      data: { evidenceId: added.body.id, authorRole: 'BUYER', ...item },
    });
  });

  /** An evidence item and its journal entry as written before sealing (in the clear), appended to the case's chain. */
  async function evidenceInTheClear(d: { disputeId: string; buyerId: string }) {
    const id = randomUUID();
    const createdAt = new Date();
    const content = { body: 'written before sealing', attachments: [{ name: 'old.pdf', sha256: 'b'.repeat(64) }] };
    await h.runtime.db.transaction(async (tx) => {
      const [c] = await tx.query<{ journal_seq: number; journal_head: string }>(
        'SELECT journal_seq, journal_head FROM disputes WHERE id = $1 FOR UPDATE',
        [d.disputeId],
      );
      const entry = nextEntry(
        d.disputeId,
        { seq: c!.journal_seq, hash: c!.journal_head },
        {
          action: 'EVIDENCE_ADDED',
          actorId: d.buyerId,
          data: {
            evidenceId: id,
            authorRole: 'BUYER',
            body: content.body,
            attachments: [{ name: 'old.pdf', sha256: 'b'.repeat(64), url: null }],
          },
        },
        createdAt,
      );
      await tx.query(
        'INSERT INTO evidence (id, dispute_id, author_id, author_role, body, attachments, content_bytes, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
        [id, d.disputeId, d.buyerId, 'BUYER', content.body, JSON.stringify(content.attachments), 0, createdAt],
      );
      await tx.query(
        'INSERT INTO journal_entries (dispute_id, seq, action, actor_id, data, prev_hash, hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
        [
          d.disputeId,
          entry.seq,
          entry.action,
          entry.actorId,
          JSON.stringify(entry.data),
          entry.prevHash,
          entry.hash,
          createdAt,
        ],
      );
      await tx.query('UPDATE disputes SET journal_seq = $2, journal_head = $3 WHERE id = $1', [
        d.disputeId,
        entry.seq,
        entry.hash,
      ]);
    });
    return content;
  }

  it('when evidence and its journal entry were stored in the clear before sealing, then they read and verify as before', async () => {
    const d = await openDispute(h);
    await evidenceInTheClear(d);
    expect(
      (
        await request(h.app)
          .post(`/api/v1/disputes/${d.disputeId}/evidence`)
          .set(as(h, d.sellerId))
          .send({ body: 'sealed' })
      ).status,
    ).toBe(201);

    const read = await request(h.app).get(`/api/v1/disputes/${d.disputeId}`).set(as(h, d.buyerId));
    expect(read.body.evidence.map((e: { body: string }) => e.body)).toEqual(['written before sealing', 'sealed']);
    expect((await request(h.app).get(`/api/v1/disputes/${d.disputeId}/export`).set(admin())).body.verification).toEqual(
      { verified: true },
    );
  });

  it('when pnpm secrets:reencrypt runs over what was stored in the clear, then it is sealed, and reads and verifies as before', async () => {
    const d = await openDispute(h);
    const content = await evidenceInTheClear(d);
    const reports = await Promise.all(
      SEALED_COLUMNS.map((column) => resealColumn(h.runtime.db, h.deps.keyring, column)),
    );
    expect(reports.find((r) => r.name === 'dispute.evidence')).toMatchObject({ failed: 0 });
    expect(reports.find((r) => r.name === 'dispute.journal_entries')).toMatchObject({ failed: 0 });
    expect(await storedText(d.disputeId)).not.toContain(content.body);
    const [item] = await h.runtime.db.query<{ body: string | null; key_id: string | null }>(
      'SELECT body, key_id FROM evidence WHERE dispute_id = $1',
      [d.disputeId],
    );
    expect(item).toEqual({ body: null, key_id: h.deps.keyring.activeKid });

    const read = await request(h.app).get(`/api/v1/disputes/${d.disputeId}`).set(as(h, d.buyerId));
    expect(read.body.evidence).toMatchObject([content]);
    const exported = await request(h.app).get(`/api/v1/disputes/${d.disputeId}/export`).set(admin());
    expect(exported.body.verification).toEqual({ verified: true });
    expect(exported.body.journal[1]).toMatchObject({ action: 'EVIDENCE_ADDED', data: { body: content.body } });
  });

  it('when anything but the sealing of an item or an entry is rewritten, or a row deleted, then the database refuses', async () => {
    const d = await openDispute(h);
    const added = await request(h.app)
      .post(`/api/v1/disputes/${d.disputeId}/evidence`)
      .set(as(h, d.buyerId))
      .send({ body: 'mine' });
    const refused = [
      ['UPDATE evidence SET author_role = $2 WHERE id = $1', [added.body.id, 'SELLER']],
      ['UPDATE evidence SET content_bytes = 0 WHERE id = $1', [added.body.id]],
      [
        'UPDATE evidence SET body = $2, key_id = NULL, iv = NULL, tag = NULL, ciphertext = NULL WHERE id = $1',
        [added.body.id, 'back in the clear'],
      ],
      ['DELETE FROM evidence WHERE id = $1', [added.body.id]],
      ["UPDATE journal_entries SET data = data - 'sealed' WHERE dispute_id = $1 AND seq = 2", [d.disputeId]],
      ["UPDATE journal_entries SET hash = 'x' WHERE dispute_id = $1 AND seq = 2", [d.disputeId]],
      ['DELETE FROM journal_entries WHERE dispute_id = $1 AND seq = 2', [d.disputeId]],
    ] as const;
    for (const [sql, params] of refused)
      await expect(h.runtime.db.query(sql, [...params])).rejects.toThrow(/append-only/);
  });
});
