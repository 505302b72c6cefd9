import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { openTrade } from './factories';
import { createHarness, type Harness } from './harness';

const IBAN = 'DE89 3704 0044 0532 0130 00';

describe('trade chat at rest: sealed in the database, in the clear through the API', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness();
  });

  afterAll(() => h.close());

  it('when a party writes bank details, then no column of the message or of its stored answer holds them, and both parties read them back', async () => {
    const m = await openTrade(h);
    const key = randomUUID();
    const post = () =>
      request(h.app)
        .post(`/api/v1/trades/${m.tradeId}/messages`)
        .set(h.as(m.sellerId))
        .set('idempotency-key', key)
        .send({ body: `pay to ${IBAN}` });
    const first = await post();
    expect(first.status).toBe(201);
    expect(first.body.message).toMatchObject({ tradeId: m.tradeId, senderId: m.sellerId, body: `pay to ${IBAN}` });
    // The replayed answer comes from the sealed copy.
    expect((await post()).body).toEqual(first.body);

    const [row] = await h.testDb.query<Record<string, unknown>>('SELECT * FROM trade_messages WHERE id = $1', [
      first.body.message.id,
    ]);
    expect(row).toMatchObject({ body: null, key_id: 'dev1' });
    const stored = await h.runtime.db.query<{ response_body: string }>(
      'SELECT response_body FROM idempotency_keys WHERE key = $1',
      [key],
    );
    for (const text of [
      JSON.stringify(row, (_k, v) => (v?.type === 'Buffer' ? Buffer.from(v.data).toString('latin1') : v)),
      stored[0]!.response_body,
    ]) {
      expect(text).not.toContain('DE89');
    }

    const list = await request(h.app).get(`/api/v1/trades/${m.tradeId}/messages`).set(h.as(m.buyerId));
    expect(list.body.data.map((msg: { body: string }) => msg.body)).toEqual([`pay to ${IBAN}`]);
  });

  it('when a message was stored in the clear before sealing, then it still reads, in order with the sealed ones', async () => {
    const m = await openTrade(h);
    await h.testDb.query('INSERT INTO trade_messages (id, trade_id, sender_id, body) VALUES ($1, $2, $3, $4)', [
      randomUUID(),
      m.tradeId,
      m.buyerId,
      'written before sealing',
    ]);
    expect(
      (await request(h.app).post(`/api/v1/trades/${m.tradeId}/messages`).set(h.as(m.sellerId)).send({ body: 'sealed' }))
        .status,
    ).toBe(201);
    const list = await request(h.app).get(`/api/v1/trades/${m.tradeId}/messages`).set(h.as(m.sellerId));
    expect(list.body.data.map((msg: { body: string }) => msg.body)).toEqual(['written before sealing', 'sealed']);
  });

  it('when a row is neither sealed nor plaintext, or both, then the database refuses it', async () => {
    const m = await openTrade(h);
    // As the tables' owner, whom row-level security does not stop: the CHECK does.
    await expect(
      h.testDb.query('INSERT INTO trade_messages (id, trade_id, sender_id) VALUES ($1, $2, $3)', [
        randomUUID(),
        m.tradeId,
        m.buyerId,
      ]),
    ).rejects.toMatchObject({ code: '23514' });
    await expect(
      h.testDb.query(
        `INSERT INTO trade_messages (id, trade_id, sender_id, body, key_id, iv, tag, ciphertext) VALUES ($1, $2, $3, 'x', 'dev1', '\\x00', '\\x00', '\\x00')`,
        [randomUUID(), m.tradeId, m.buyerId],
      ),
    ).rejects.toMatchObject({ code: '23514' });
  });
});
