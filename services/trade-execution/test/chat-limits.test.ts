import request from 'supertest';
import { MESSAGES_PER_TRADE_MAX } from '../src/domain/trade-chat.use-case';
import { openTrade } from './factories';
import { createHarness, type Harness } from './harness';

describe('trade chat: bounded, and read-only once the trade is closed', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness();
  });

  afterAll(() => h.close());

  const say = (tradeId: string, userId: string, body = 'hello') =>
    request(h.app).post(`/api/v1/trades/${tradeId}/messages`).set(h.as(userId)).send({ body });
  const countOf = async (tradeId: string) =>
    (
      await h.testDb.query<{ n: number }>('SELECT count(*)::int AS n FROM trade_messages WHERE trade_id = $1', [
        tradeId,
      ])
    )[0]!.n;

  it('when a trade was cancelled, then its chat can still be read but nobody writes in it (409 TRADE.CHAT_CLOSED)', async () => {
    const m = await openTrade(h);
    expect((await say(m.tradeId, m.buyerId, 'on my way')).status).toBe(201);
    expect((await request(h.app).post(`/api/v1/trades/${m.tradeId}/cancel`).set(h.as(m.buyerId)).send({})).status).toBe(
      200,
    );
    for (const userId of [m.buyerId, m.sellerId]) {
      const res = await say(m.tradeId, userId, 'my IBAN is DE89 3704 0044 0532 0130 00');
      expect(res.status).toBe(409);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.body.code).toBe('TRADE.CHAT_CLOSED');
    }
    expect(await countOf(m.tradeId)).toBe(1);
    expect(
      (await request(h.app).get(`/api/v1/trades/${m.tradeId}/messages`).set(h.as(m.sellerId))).body.data,
    ).toHaveLength(1);
  });

  it('when a trade was completed, then its chat is closed too', async () => {
    const m = await openTrade(h);
    expect(
      (await request(h.app).post(`/api/v1/trades/${m.tradeId}/release`).set(h.as(m.sellerId)).send({})).status,
    ).toBe(200);
    expect((await say(m.tradeId, m.buyerId)).body.code).toBe('TRADE.CHAT_CLOSED');
  });

  it(`when a chat holds ${MESSAGES_PER_TRADE_MAX} messages, then the next is refused (409 TRADE.CHAT_LIMIT_REACHED), also when writers race`, async () => {
    const m = await openTrade(h);
    await h.testDb.query(
      `INSERT INTO trade_messages (id, trade_id, sender_id, body) SELECT gen_random_uuid(), $1, $2, 'filler ' || i FROM generate_series(1, $3::int) i`,
      [m.tradeId, m.buyerId, MESSAGES_PER_TRADE_MAX - 3],
    );
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => say(m.tradeId, i % 2 ? m.buyerId : m.sellerId, `race ${i}`)),
    );
    expect(answers.filter((res) => res.status === 201)).toHaveLength(3);
    expect(
      answers.filter((res) => res.status === 409).every((res) => res.body.code === 'TRADE.CHAT_LIMIT_REACHED'),
    ).toBe(true);
    expect(await countOf(m.tradeId)).toBe(MESSAGES_PER_TRADE_MAX);
  });
});
