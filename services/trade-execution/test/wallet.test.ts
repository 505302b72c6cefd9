import request from 'supertest';
import { ADMIN, balance, fund, verify } from './factories';
import { ADDRESSES, PRODUCTION_CUSTODY } from './custody-helpers';
import { createHarness, type Harness } from './harness';

describe('wallet: deposits, withdrawals, balances, ledger, verification', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness();
  });

  afterAll(() => h.close());

  it('when a user deposits, then AVAILABLE grows by exactly that amount and the ledger still sums to zero', async () => {
    await fund(h, 'w-alice', 'BTC', '1.5');
    await fund(h, 'w-alice', 'BTC', '0.00000001');
    expect(await balance(h, 'w-alice', 'BTC')).toEqual({
      asset: 'BTC',
      available: '1.50000001',
      held: '0.00000000',
      inEscrow: '0.00000000',
    });
    const res = await request(h.app).get('/api/v1/wallet/balances').set(h.as('w-alice'));
    expect(res.body.data.map((b: { asset: string }) => b.asset)).toEqual(['BTC', 'ETH', 'USDT', 'USDC']);
    const report = await verify(h);
    expect(report.ok).toBe(true);
    expect(report.assets.find((a) => a.asset === 'BTC')).toMatchObject({ sum: '0.00000000', negativeAccounts: 0 });
  });

  it.each([
    ['a float', { asset: 'BTC', amount: 0.1 }],
    ['an exponent', { asset: 'BTC', amount: '1e3' }],
    ['too many decimals for USDT', { asset: 'USDT', amount: '1.0000001' }],
    ['a negative amount', { asset: 'BTC', amount: '-1' }],
    ['zero', { asset: 'BTC', amount: '0.000' }],
    ['NaN', { asset: 'BTC', amount: 'NaN' }],
    ['an unknown asset', { asset: 'DOGE', amount: '1' }],
    ['an unknown field', { asset: 'BTC', amount: '1', userId: 'w-mallory' }],
    ['a leading plus', { asset: 'BTC', amount: '+1' }],
    ['spaces', { asset: 'BTC', amount: ' 1' }],
  ])('when a deposit has %s, then 400 and no balance changes', async (_name, body) => {
    const res = await request(h.app).post('/api/v1/wallet/deposits').set(h.as('w-bad')).send(body);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.body.code).toBe('VALIDATION.FAILED');
    expect(await balance(h, 'w-bad', 'BTC')).toMatchObject({ available: '0.00000000' });
    expect(await balance(h, 'w-mallory', 'BTC')).toMatchObject({ available: '0.00000000' });
  });

  it('when nobody is authenticated, then wallet endpoints answer 401', async () => {
    expect((await request(h.app).get('/api/v1/wallet/balances')).status).toBe(401);
    expect((await request(h.app).post('/api/v1/wallet/deposits').send({ asset: 'BTC', amount: '1' })).status).toBe(401);
  });

  it('when a withdrawal is covered (amount and fee), then it is taken and debited at once; when not, then 409 and nothing moves', async () => {
    await fund(h, 'w-bob', 'USDT', '100');
    const ok = await request(h.app)
      .post('/api/v1/wallet/withdrawals')
      .set(h.as('w-bob'))
      .send({ asset: 'USDT', amount: '60.5', address: ADDRESSES.USDT });
    expect(ok.status).toBe(201);
    expect(ok.body.withdrawal).toMatchObject({ status: 'APPROVED', amount: '60.500000', fee: '1.000000' });
    expect(await balance(h, 'w-bob', 'USDT')).toMatchObject({ available: '38.500000' });
    const tooMuch = await request(h.app)
      .post('/api/v1/wallet/withdrawals')
      .set(h.as('w-bob'))
      .send({ asset: 'USDT', amount: '37.500001', address: ADDRESSES.USDT });
    expect(tooMuch.status).toBe(409);
    expect(tooMuch.body.code).toBe('WALLET.INSUFFICIENT_FUNDS');
    expect(await balance(h, 'w-bob', 'USDT')).toMatchObject({ available: '38.500000' });
    expect((await verify(h)).ok).toBe(true);
  });

  it('when parallel withdrawals drain one balance, then exactly the covered ones succeed and it never goes negative', async () => {
    await fund(h, 'w-carol', 'ETH', '1');
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        request(h.app)
          .post('/api/v1/wallet/withdrawals')
          .set(h.as('w-carol'))
          .send({ asset: 'ETH', amount: '0.3', address: ADDRESSES.ETH }),
      ),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(3);
    expect(results.filter((r) => r.status === 409)).toHaveLength(7);
    // 1 - 3 × (0.3 + the 0.002 fee)
    expect(await balance(h, 'w-carol', 'ETH')).toMatchObject({ available: '0.09400000' });
  });

  it('when a deposit is retried with the same Idempotency-Key, then it is credited once and the answer replays', async () => {
    const send = (body: object) =>
      request(h.app).post('/api/v1/wallet/deposits').set(h.as('w-dave')).set('Idempotency-Key', 'dep-1').send(body);
    const first = await send({ asset: 'USDC', amount: '5' });
    const again = await send({ asset: 'USDC', amount: '5' });
    expect(again.status).toBe(201);
    expect(again.body.id).toBe(first.body.id);
    expect(await balance(h, 'w-dave', 'USDC')).toMatchObject({ available: '5.000000' });
    const other = await send({ asset: 'USDC', amount: '6' });
    expect(other.status).toBe(422);
    expect(other.body.code).toBe('IDEMPOTENCY.KEY_REUSED');
  });

  it('when the ledger is paged, then entries come newest first with a working cursor', async () => {
    for (const amount of ['1', '2', '3']) await fund(h, 'w-erin', 'BTC', amount);
    const first = await request(h.app).get('/api/v1/wallet/ledger?limit=2').set(h.as('w-erin'));
    expect(first.status).toBe(200);
    expect(first.body.data.map((e: { amount: string }) => e.amount)).toEqual(['3.00000000', '2.00000000']);
    const second = await request(h.app)
      .get(`/api/v1/wallet/ledger?limit=2&cursor=${first.body.nextCursor}`)
      .set(h.as('w-erin'));
    expect(second.body.data.map((e: { amount: string }) => e.amount)).toEqual(['1.00000000']);
    expect(second.body.nextCursor).toBeNull();
    expect((await request(h.app).get('/api/v1/wallet/ledger?cursor=garbage').set(h.as('w-erin'))).status).toBe(400);
  });

  it('when a non-admin asks for ledger verification or admin stats, then 403', async () => {
    expect((await request(h.app).get('/api/v1/admin/ledger/verify').set(h.as('w-alice'))).status).toBe(403);
    expect((await request(h.app).get('/api/v1/admin/stats').set(h.as('w-alice'))).status).toBe(403);
    expect(
      (
        await request(h.app)
          .get('/api/v1/admin/stats')
          .set(h.as(ADMIN, ['admin']))
      ).status,
    ).toBe(200);
  });

  it('when someone writes a journal that does not balance, edits a balance or overdraws an account, then the database refuses it', async () => {
    // As the tables' owner, the one role besides the ledger's functions that could write them (the service's role
    // cannot: row-level security, test/private-rows.test.ts): the guards stop it all the same.
    const owner = h.testDb;
    await expect(
      owner.transaction(async (client) => {
        await client.query(
          `INSERT INTO journals (id, kind, ref) VALUES ('00000000-0000-4000-8000-000000000001', 'HACK', 'x')`,
        );
        const { rows } = await client.query<{ id: string }>(
          `SELECT id FROM accounts WHERE kind = 'AVAILABLE' AND owner_id = 'w-alice' AND asset = 'BTC'`,
        );
        await client.query(
          `INSERT INTO entries (journal_id, account_id, asset, amount) VALUES ('00000000-0000-4000-8000-000000000001', $1, 'BTC', 1)`,
          [rows[0]!.id],
        );
      }),
    ).rejects.toThrow(/does not sum to zero/);
    await expect(
      owner.query(`UPDATE accounts SET balance = balance + 1 WHERE kind = 'AVAILABLE' AND owner_id = 'w-alice'`),
    ).rejects.toThrow(/only through post_journal/);
    await expect(
      owner.query(`INSERT INTO accounts (kind, owner_id, asset, balance) VALUES ('AVAILABLE', 'w-forger', 'BTC', 5)`),
    ).rejects.toThrow(/created empty/);
    // Even past the guard (as post_journal itself), the CHECK keeps user accounts from going negative.
    await expect(
      owner.transaction(async (client) => {
        await client.query(`SELECT set_config('orrange.ledger_posting', 'on', true)`);
        await client.query(`UPDATE accounts SET balance = -1 WHERE kind = 'AVAILABLE' AND owner_id = 'w-alice'`);
      }),
    ).rejects.toThrow(/accounts_balance_nonnegative/);
    await expect(owner.query(`DELETE FROM entries`)).rejects.toThrow(/append-only/);
    expect((await verify(h)).ok).toBe(true);
  });
});

describe('wallet in production', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness({
      NODE_ENV: 'production',
      TRADE_DB_PASSWORD: 'a-production-db-password',
      INTERNAL_TOKEN_SECRET: 'a-production-secret-that-is-long-enough-0123456789',
      ENCRYPTION_KEYS: `prod1:${Buffer.alloc(32, 7).toString('base64')}`,
      ...PRODUCTION_CUSTODY,
    });
  });

  afterAll(() => h.close());

  it('when a user uses the faucet with NODE_ENV=production, then 403; an admin may credit', async () => {
    const res = await request(h.app)
      .post('/api/v1/wallet/deposits')
      .set(h.as('p-user'))
      .send({ asset: 'BTC', amount: '1' });
    expect(res.status).toBe(403);
    const admin = await request(h.app)
      .post('/api/v1/wallet/deposits')
      .set(h.as(ADMIN, ['admin']))
      .send({ asset: 'BTC', amount: '1' });
    expect(admin.status).toBe(201);
  });
});
