import { openSse, type SseClient } from '@orrange/testing';
import { Api, login, newUser, until } from '../src/client';
import { ADMIN, startStack, type Stack } from '../src/stack';

/**
 * API.md "Live updates" through the whole stack (issue 15): a trade's whole life reaches both parties' streams and
 * never a stranger's, a chat message reaches the counterparty, balances are announced when they change, a client
 * that dropped its connection resumes with Last-Event-ID, and the public book stream follows the book.
 */
describe('end to end: live updates', () => {
  let stack: Stack;
  let api: Api;
  const streams: SseClient[] = [];

  beforeAll(async () => {
    stack = await startStack();
    api = new Api(stack.gatewayUrl);
  });

  afterAll(async () => {
    for (const stream of streams) stream.close();
    await stack?.stop();
  });

  /** A user's stream as a browser opens it: a ticket over the bearer token, then EventSource with ?ticket=. */
  async function streamOf(user: Api, headers: Record<string, string> = {}): Promise<SseClient> {
    const ticket = await user.post('/api/v1/stream/tickets', {});
    expect(ticket.status).toBe(201);
    const stream = await openSse(`${stack.gatewayUrl}/api/v1/stream?ticket=${ticket.body.ticket}`, headers);
    expect(stream.status).toBe(200);
    streams.push(stream);
    return stream;
  }

  const tradeStatuses = (stream: SseClient, tradeId: string) =>
    stream
      .named('trade.updated')
      .map((e) => JSON.parse(e.data!))
      .filter((t) => t.id === tradeId)
      .map((t) => t.status as string);

  it('when a trade is opened, paid, talked about and released, then both parties see every step live, a stranger nothing, and a dropped client resumes', async () => {
    const book = await openSse(`${stack.gatewayUrl}/api/v1/stream/orderbook?asset=BTC&fiatCurrency=USD`);
    streams.push(book);
    expect(book.status).toBe(200);
    await book.waitFor((c) => c.named('snapshot').length === 1);
    const snapshotSequence = JSON.parse(book.named('snapshot')[0]!.data!).sequence as number;

    const seller = await newUser(api, 'ls');
    const buyer = await newUser(api, 'lb');
    const stranger = await newUser(api, 'lx');
    const [sellerStream, buyerStream, strangerStream] = await Promise.all([
      streamOf(seller.api),
      streamOf(buyer.api),
      streamOf(stranger.api),
    ]);

    // A balance change: the faucet's deposit.
    expect((await seller.api.post('/api/v1/wallet/deposits', { asset: 'BTC', amount: '0.02' })).status).toBe(201);
    await sellerStream.waitFor((c) => c.named('balance.updated').length >= 1);
    expect(JSON.parse(sellerStream.named('balance.updated')[0]!.data!)).toEqual({
      asset: 'BTC',
      available: '0.02000000',
      held: '0.00000000',
      inEscrow: '0.00000000',
    });

    const placed = await seller.api.post('/api/v1/orders', {
      side: 'SELL',
      asset: 'BTC',
      fiatCurrency: 'USD',
      price: '50000.00',
      amount: '0.01000000',
      paymentMethods: ['SEPA'],
    });
    expect(placed.status).toBe(201);
    await sellerStream.waitFor((c) =>
      c.named('order.updated').some((e) => JSON.parse(e.data!).id === placed.body.order.id),
    );
    const orderEvent = JSON.parse(
      sellerStream.named('order.updated').find((e) => JSON.parse(e.data!).id === placed.body.order.id)!.data!,
    );
    expect(orderEvent).toEqual(placed.body.order);
    // The public book saw the new ask, with a higher sequence than its snapshot.
    await book.waitFor((c) =>
      c.named('book').some((e) => JSON.parse(e.data!).asks.some((a: { price: string }) => a.price === '50000.00')),
    );
    expect(
      book.named('book').every((e) => Number(e.id) > snapshotSequence && JSON.parse(e.data!).sequence === Number(e.id)),
    ).toBe(true);

    const take = await buyer.api.post(`/api/v1/orders/${placed.body.order.id}/take`, {
      amount: '0.01000000',
      paymentMethod: 'SEPA',
    });
    expect(take.status).toBe(201);
    const tradeId = take.body.tradeId as string;
    for (const stream of [sellerStream, buyerStream])
      await stream.waitFor((c) => tradeStatuses(c, tradeId).includes('AWAITING_PAYMENT'));

    expect((await buyer.api.post(`/api/v1/trades/${tradeId}/paid`, {})).status).toBe(200);
    for (const stream of [sellerStream, buyerStream])
      await stream.waitFor((c) => tradeStatuses(c, tradeId).includes('PAID'));
    const paid = JSON.parse(
      buyerStream.named('trade.updated').find((e) => JSON.parse(e.data!).status === 'PAID')!.data!,
    );
    // The REST answer's fields, all of them but the buyer's payment details.
    const { paymentDetails: _details, ...rest } = (await buyer.api.get(`/api/v1/trades/${tradeId}`)).body.trade;
    expect(paid).toEqual(rest);
    expect(paid).not.toHaveProperty('paymentDetails');

    const said = await buyer.api.post(`/api/v1/trades/${tradeId}/messages`, {
      body: 'Sent the transfer, reference 4711',
    });
    expect(said.status).toBe(201);
    await sellerStream.waitFor((c) => c.named('trade.message').length >= 1);
    expect(JSON.parse(sellerStream.named('trade.message')[0]!.data!)).toEqual(said.body.message);

    // The buyer's connection drops; the trade completes meanwhile; the buyer comes back with the last id it saw.
    const lastSeen = buyerStream.named().at(-1)!.id!;
    buyerStream.close();
    expect((await seller.api.post(`/api/v1/trades/${tradeId}/release`, {})).status).toBe(200);
    await sellerStream.waitFor((c) => tradeStatuses(c, tradeId).includes('COMPLETED'));
    const resumed = await streamOf(buyer.api, { 'last-event-id': lastSeen });
    await resumed.waitFor(
      (c) => tradeStatuses(c, tradeId).includes('COMPLETED') && c.named('balance.updated').length >= 1,
    );
    expect(resumed.named('resync')).toEqual([]);
    expect(tradeStatuses(resumed, tradeId)).toEqual(['COMPLETED']); // what it missed, nothing it had seen
    expect(JSON.parse(resumed.named('balance.updated').at(-1)!.data!)).toMatchObject({
      asset: 'BTC',
      inEscrow: '0.00000000',
    });

    expect(tradeStatuses(sellerStream, tradeId)).toEqual(['AWAITING_PAYMENT', 'PAID', 'COMPLETED']);
    expect(strangerStream.named()).toEqual([]);
  });

  it('when a disputed trade is resolved by an arbitrator, then both parties hear of it, with their new balances', async () => {
    const admin = await login(api, ADMIN.email, ADMIN.password);
    const seller = await newUser(api, 'ds');
    const buyer = await newUser(api, 'db');
    const arbitrator = await newUser(api, 'da');
    expect(
      (await admin.patch(`/api/v1/admin/users/${arbitrator.id}/roles`, { roles: ['user', 'arbitrator'] })).status,
    ).toBe(200);
    const arbitratorApi = await login(api, arbitrator.email, 'correct-horse-battery');
    expect((await seller.api.post('/api/v1/wallet/deposits', { asset: 'BTC', amount: '0.01' })).status).toBe(201);
    const ad = await seller.api.post('/api/v1/orders', {
      side: 'SELL',
      asset: 'BTC',
      fiatCurrency: 'USD',
      price: '50000.00',
      amount: '0.01000000',
      paymentMethods: ['SEPA'],
    });
    const take = await buyer.api.post(`/api/v1/orders/${ad.body.order.id}/take`, {
      amount: '0.01000000',
      paymentMethod: 'SEPA',
    });
    expect(take.status).toBe(201);
    const tradeId = take.body.tradeId as string;
    await until(async () => (await buyer.api.get(`/api/v1/trades/${tradeId}`)).status === 200);
    const [sellerStream, buyerStream] = await Promise.all([streamOf(seller.api), streamOf(buyer.api)]);
    expect((await buyer.api.post(`/api/v1/trades/${tradeId}/paid`, {})).status).toBe(200);
    const disputeId = (await buyer.api.post(`/api/v1/trades/${tradeId}/dispute`, { reason: 'Paid, not released.' }))
      .body.disputeId as string;
    for (const stream of [sellerStream, buyerStream])
      await stream.waitFor((c) => tradeStatuses(c, tradeId).includes('DISPUTED'));
    await until(async () => (await arbitratorApi.post(`/api/v1/disputes/${disputeId}/assign`, {})).status === 200);
    expect(
      (
        await arbitratorApi.post(`/api/v1/disputes/${disputeId}/resolve`, {
          outcome: 'RELEASE_TO_BUYER',
          note: 'Payment proven.',
        })
      ).status,
    ).toBe(200);
    for (const stream of [sellerStream, buyerStream])
      await stream.waitFor((c) => tradeStatuses(c, tradeId).includes('RESOLVED'));
    expect(JSON.parse(buyerStream.named('trade.updated').at(-1)!.data!)).toMatchObject({
      id: tradeId,
      status: 'RESOLVED',
      outcome: 'RELEASE_TO_BUYER',
    });
    await buyerStream.waitFor((c) =>
      c.named('balance.updated').some((e) => JSON.parse(e.data!).available === '0.01000000'),
    );
  });

  it('when a client presents no credentials or a used ticket, then the stream is a 401 problem+json', async () => {
    expect((await openSse(`${stack.gatewayUrl}/api/v1/stream`)).status).toBe(401);
    const user = await newUser(api, 'lt');
    const ticket = (await user.api.post('/api/v1/stream/tickets', {})).body.ticket as string;
    const first = await openSse(`${stack.gatewayUrl}/api/v1/stream?ticket=${ticket}`);
    streams.push(first);
    expect(first.status).toBe(200);
    const second = await openSse(`${stack.gatewayUrl}/api/v1/stream?ticket=${ticket}`);
    expect(second.status).toBe(401);
    expect(JSON.parse(second.body)).toMatchObject({ code: 'STREAM.INVALID_TICKET' });
  });
});
