import { Api, login, newUser, until } from '../src/client';
import { balances, expectLedgerBalanced } from '../src/invariants';
import { ADMIN, startStack, type Stack } from '../src/stack';

/**
 * Hostile input over the public endpoints: whatever a client sends, the answer is a 4xx problem+json,
 * never a 5xx, and no balance changes.
 */
describe('end to end: hostile input', () => {
  let stack: Stack;
  let api: Api;
  let admin: Api;
  let alice: Awaited<ReturnType<typeof newUser>>;
  let mallory: Awaited<ReturnType<typeof newUser>>;
  let aliceOrderId: string;
  let tradeId: string;
  let tried = 0;

  beforeAll(async () => {
    stack = await startStack();
    api = new Api(stack.gatewayUrl);
    admin = await login(api, ADMIN.email, ADMIN.password);
    alice = await newUser(api, 'alice');
    mallory = await newUser(api, 'mal');
    expect((await alice.api.post('/api/v1/wallet/deposits', { asset: 'BTC', amount: '1.00000000' })).status).toBe(201);
    const order = await alice.api.post('/api/v1/orders', {
      side: 'SELL',
      asset: 'BTC',
      fiatCurrency: 'USD',
      price: '50000.00',
      amount: '0.50000000',
      paymentMethods: ['SEPA'],
    });
    aliceOrderId = order.body.order.id;
    await until(async () => (await alice.api.get(`/api/v1/orders/${aliceOrderId}`)).body.order?.status === 'OPEN');
    const bob = await newUser(api, 'bob');
    const take = await bob.api.post(`/api/v1/orders/${aliceOrderId}/take`, {
      amount: '0.10000000',
      paymentMethod: 'SEPA',
    });
    tradeId = take.body.tradeId;
    await until(async () => (await bob.api.get(`/api/v1/trades/${tradeId}`)).status === 200);
  });

  afterAll(async () => {
    console.log(`hostile inputs tried: ${tried}`);
    await stack?.stop();
  });

  function expectClientError(res: { status: number; headers: Headers; body: any }, what: string) {
    tried++;
    if (res.status < 400 || res.status >= 500)
      throw new Error(`${what}: expected 4xx, got ${res.status} ${JSON.stringify(res.body)}`);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(res.body).toMatchObject({ status: res.status, code: expect.any(String) });
  }

  const badMoney = [
    1,
    0.1,
    1e-8,
    '1e-8',
    '1E5',
    '-1',
    '0',
    '0.00000000',
    '0.123456789',
    'NaN',
    'Infinity',
    '',
    ' 1',
    '1 ',
    '0x10',
    '١',
    null,
    true,
    [],
    {},
    '9'.repeat(40),
  ];

  it('when money fields carry floats, exponents, signs or too many decimals, then 400 and nothing moves', async () => {
    const before = await balances(alice.api);
    for (const amount of badMoney) {
      expectClientError(
        await alice.api.post('/api/v1/wallet/deposits', { asset: 'BTC', amount }),
        `deposit ${JSON.stringify(amount)}`,
      );
      expectClientError(
        await alice.api.post('/api/v1/wallet/withdrawals', { asset: 'BTC', amount, address: 'bc1qxyz' }),
        `withdraw ${JSON.stringify(amount)}`,
      );
      expectClientError(
        await alice.api.post('/api/v1/orders', {
          side: 'SELL',
          asset: 'BTC',
          fiatCurrency: 'USD',
          price: '100.00',
          amount,
          paymentMethods: ['SEPA'],
        }),
        `order amount ${JSON.stringify(amount)}`,
      );
      expectClientError(
        await alice.api.post('/api/v1/orders', {
          side: 'BUY',
          asset: 'BTC',
          fiatCurrency: 'USD',
          price: amount,
          amount: '0.1',
          paymentMethods: ['SEPA'],
        }),
        `order price ${JSON.stringify(amount)}`,
      );
    }
    expect(await balances(alice.api)).toEqual(before);
  });

  it('when bodies have unknown fields, wrong types, deep nesting or huge size, then 4xx', async () => {
    const smuggled = [
      [
        '/api/v1/auth/register',
        { email: 'x@e2e.test', username: 'smuggler', password: 'long-enough-pw', roles: ['admin'] },
      ],
      ['/api/v1/wallet/deposits', { asset: 'BTC', amount: '1', userId: mallory.id }],
      [
        '/api/v1/orders',
        {
          side: 'BUY',
          asset: 'BTC',
          fiatCurrency: 'USD',
          price: '1.00',
          amount: '0.1',
          paymentMethods: ['SEPA'],
          status: 'FILLED',
        },
      ],
      [
        '/api/v1/orders',
        { side: 'HOLD', asset: 'BTC', fiatCurrency: 'USD', price: '1.00', amount: '0.1', paymentMethods: ['SEPA'] },
      ],
      [
        '/api/v1/orders',
        { side: 'BUY', asset: 'DOGE', fiatCurrency: 'USD', price: '1.00', amount: '0.1', paymentMethods: ['SEPA'] },
      ],
      [
        '/api/v1/orders',
        { side: 'BUY', asset: 'BTC', fiatCurrency: 'XXX', price: '1.00', amount: '0.1', paymentMethods: ['SEPA'] },
      ],
      [
        '/api/v1/orders',
        { side: 'BUY', asset: 'BTC', fiatCurrency: 'USD', price: '1.00', amount: '0.1', paymentMethods: [] },
      ],
      [
        '/api/v1/orders',
        {
          side: 'BUY',
          asset: 'BTC',
          fiatCurrency: 'USD',
          price: '1.00',
          amount: '0.1',
          paymentMethods: ['SEPA'],
          paymentWindowMinutes: 5,
        },
      ],
      [
        '/api/v1/orders',
        {
          side: 'BUY',
          asset: 'BTC',
          fiatCurrency: 'USD',
          price: '1.00',
          amount: '0.1',
          paymentMethods: ['SEPA'],
          terms: 'x'.repeat(1001),
        },
      ],
      ['/api/v1/users/me/api-keys', { name: 'k', scopes: ['admin'] }],
    ] as const;
    for (const [path, body] of smuggled)
      expectClientError(await alice.api.post(path, body), `${path} ${JSON.stringify(body).slice(0, 80)}`);
    expectClientError(await alice.api.patch('/api/v1/users/me/profile', { roles: ['admin'] }), 'profile roles');

    const depth = 100_000;
    expectClientError(
      await alice.api.post('/api/v1/orders', `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`),
      'deeply nested',
    );
    expectClientError(await alice.api.post('/api/v1/orders', { terms: 'x'.repeat(2_000_000) }), 'huge body');
    expectClientError(await alice.api.post('/api/v1/orders', '{"side": "BUY",'), 'malformed JSON');
    expectClientError(await alice.api.post('/api/v1/orders', '[1,2,3]'), 'array body');
    expectClientError(
      await alice.api.request('POST', '/api/v1/orders', 'side=BUY', {
        'content-type': 'application/x-www-form-urlencoded',
      }),
      'form body',
    );
  });

  it("when ids are other users', unknown or SQL-looking, then 4xx and nothing changes", async () => {
    const before = await balances(alice.api);
    expectClientError(await mallory.api.delete(`/api/v1/orders/${aliceOrderId}`), 'cancel another user order');
    expectClientError(await mallory.api.get(`/api/v1/trades/${tradeId}`), 'read another user trade');
    for (const action of ['paid', 'release', 'cancel'])
      expectClientError(await mallory.api.post(`/api/v1/trades/${tradeId}/${action}`), `${action} another user trade`);
    expectClientError(
      await mallory.api.post(`/api/v1/trades/${tradeId}/dispute`, { reason: 'mine now' }),
      'dispute another user trade',
    );
    for (const id of [
      "1' OR '1'='1",
      '../../etc/passwd',
      '00000000-0000-0000-0000-000000000000',
      'x'.repeat(300),
      '%00',
    ]) {
      expectClientError(await mallory.api.get(`/api/v1/orders/${encodeURIComponent(id)}`), `order id ${id}`);
      expectClientError(await mallory.api.get(`/api/v1/trades/${encodeURIComponent(id)}`), `trade id ${id}`);
      expectClientError(await mallory.api.get(`/api/v1/disputes/${encodeURIComponent(id)}`), `dispute id ${id}`);
      expectClientError(await api.get(`/api/v1/users/${encodeURIComponent(id)}`), `user id ${id}`);
    }
    expectClientError(await mallory.api.get('/api/v1/admin/ledger/verify'), 'admin route as user');
    expectClientError(
      await mallory.api.patch(`/api/v1/admin/users/${mallory.id}/roles`, { roles: ['admin'] }),
      'self-promotion',
    );
    expect(await balances(alice.api)).toEqual(before);
  });

  it('when tokens are forged, expired or missing, then 401', async () => {
    const header = (obj: object) => Buffer.from(JSON.stringify(obj)).toString('base64url');
    const none = `${header({ alg: 'none', typ: 'JWT' })}.${header({ sub: alice.id, roles: ['admin'], exp: 9999999999 })}.`;
    const tampered = (alice.api as unknown as { token: string }).token.replace(
      /\.[^.]+\./,
      `.${header({ sub: alice.id, roles: ['admin'], exp: 9999999999 })}.`,
    );
    for (const token of [none, tampered, 'garbage', '']) {
      expectClientError(await api.as(token).get('/api/v1/wallet/balances'), `token ${token.slice(0, 20)}`);
    }
    expectClientError(await api.get('/api/v1/wallet/balances'), 'no token');
    expectClientError(await api.get('/api/v1/wallet/balances', { 'x-api-key': 'orr_not-a-key' }), 'bad API key');
    expectClientError(
      await api.get('/api/v1/wallet/balances', { 'x-orrange-identity': 'forged' }),
      'client-sent identity header',
    );
  });

  it('when an Idempotency-Key is replayed with another body, then 422 and the first effect stands alone', async () => {
    const before = await balances(alice.api);
    const first = await alice.api.post(
      '/api/v1/wallet/deposits',
      { asset: 'BTC', amount: '0.01000000' },
      { 'idempotency-key': 'e2e-dep-1' },
    );
    const replay = await alice.api.post(
      '/api/v1/wallet/deposits',
      { asset: 'BTC', amount: '0.01000000' },
      { 'idempotency-key': 'e2e-dep-1' },
    );
    expect(first.status).toBe(201);
    expect(replay.status).toBe(201);
    expect(replay.body).toEqual(first.body);
    const other = await alice.api.post(
      '/api/v1/wallet/deposits',
      { asset: 'BTC', amount: '5.00000000' },
      { 'idempotency-key': 'e2e-dep-1' },
    );
    expectClientError(other, 'idempotency key reuse');
    expect(other.status).toBe(422);
    expect((await balances(alice.api)).BTC.available).toBe(before.BTC.available + 1_000_000n);
    await expectLedgerBalanced(admin);
  });
});
