import request from 'supertest';
import type { Settings } from '@orrange/db';
import { AS_SYSTEM, asUser } from '@orrange/db';
import { listWithdrawals } from '../src/data/withdrawal.repository';
import { ADMIN, fund, openTrade } from './factories';
import { depositAddress, withdraw } from './custody-helpers';
import { createHarness, type Harness } from './harness';

/** The tables under row-level security (migration private_rows), each with the column that says whose a row is. */
const PRIVATE = {
  accounts: "SELECT owner_id AS whose FROM accounts WHERE owner_id <> ''",
  entries: "SELECT a.owner_id AS whose FROM entries e JOIN accounts a ON a.id = e.account_id WHERE a.owner_id <> ''",
  withdrawals: 'SELECT user_id AS whose FROM withdrawals',
  withdrawal_transitions:
    'SELECT w.user_id AS whose FROM withdrawal_transitions t JOIN withdrawals w ON w.id = t.withdrawal_id',
  trade_messages: 'SELECT sender_id AS whose FROM trade_messages',
  deposits: 'SELECT user_id AS whose FROM deposits',
  deposit_addresses: 'SELECT user_id AS whose FROM deposit_addresses',
} as const;

describe('row-level security on the private rows of trade-execution (issue 17)', () => {
  let h: Harness;
  // alice sells to bob and both write in the trade's chat; carol is in no trade. Each of the three has money and a withdrawal.
  let alice: string;
  let bob: string;
  const carol = 'rls-carol';
  let tradeId: string;
  let aliceWithdrawal: string;

  const owners = async (table: keyof typeof PRIVATE) =>
    new Set((await h.testDb.query<{ whose: string }>(PRIVATE[table])).map((r) => r.whose));
  /** How many of the table's rows the service's role sees with these settings (none: nobody acts). */
  const seenAs = async (table: keyof typeof PRIVATE, settings?: Settings) =>
    (await (settings ? h.runtime.db.withSettings(settings).primary : h.runtime.db).query(`SELECT 1 FROM ${table}`))
      .length;

  beforeAll(async () => {
    h = await createHarness();
    const trade = await openTrade(h, { sellerId: 'rls-alice', buyerId: 'rls-bob', amount: '0.01000000' });
    ({ tradeId, sellerId: alice, buyerId: bob } = trade);
    for (const [userId, body] of [
      [bob, 'paying now'],
      [alice, 'my IBAN is DE89 3704 0044 0532 0130 00'],
    ] as const) {
      const res = await request(h.app).post(`/api/v1/trades/${tradeId}/messages`).set(h.as(userId)).send({ body });
      expect(res.status).toBe(201);
    }
    for (const userId of [alice, bob, carol]) {
      await fund(h, userId, 'BTC', '1');
      const res = await withdraw(h, userId, 'BTC', '0.001');
      expect(res.status).toBe(201);
      if (userId === alice) aliceWithdrawal = res.body.id;
      await depositAddress(h, userId, 'BTC');
    }
  });

  afterAll(() => h.close());

  it('when the rows are there, then they belong to several users (what the other tests rely on)', async () => {
    for (const table of [
      'accounts',
      'entries',
      'withdrawals',
      'withdrawal_transitions',
      'deposits',
      'deposit_addresses',
    ] as const)
      expect([table, await owners(table)]).toEqual([table, new Set([alice, bob, carol])]);
    expect(await owners('trade_messages')).toEqual(new Set([alice, bob]));
  });

  it('when the service reads them without naming who acts, then it sees none of them, even with an ownership check', async () => {
    for (const table of Object.keys(PRIVATE) as Array<keyof typeof PRIVATE>)
      expect([table, await seenAs(table)]).toEqual([table, 0]);
    expect(await h.runtime.db.query('SELECT id FROM withdrawals WHERE user_id = $1', [alice])).toEqual([]);
    expect(await h.runtime.db.query("SELECT id FROM accounts WHERE owner_id = ''")).toEqual([]);
  });

  it("when it acts as one user and forgets its ownership check, then it sees that user's rows alone", async () => {
    const asAlice = h.runtime.db.withSettings(asUser(alice)).primary;
    const whose = async (sql: string) => new Set((await asAlice.query<{ whose: string }>(sql)).map((r) => r.whose));
    expect(await whose('SELECT owner_id AS whose FROM accounts')).toEqual(new Set([alice]));
    expect(await whose('SELECT a.owner_id AS whose FROM entries e JOIN accounts a ON a.id = e.account_id')).toEqual(
      new Set([alice]),
    );
    // Entries read alone (no join that would filter them): only those of alice's accounts.
    const [entries] = await asAlice.query<{ n: number }>('SELECT count(*)::int AS n FROM entries');
    const [hers] = await h.testDb.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM entries e JOIN accounts a ON a.id = e.account_id WHERE a.owner_id = $1',
      [alice],
    );
    expect(entries!.n).toBe(hers!.n);
    expect((await listWithdrawals(asAlice, {}, 100, null)).map((w) => w.userId)).toEqual([alice]);
    const [transitions] = await asAlice.query<{ n: number }>(
      'SELECT count(DISTINCT withdrawal_id)::int AS n FROM withdrawal_transitions',
    );
    expect(transitions!.n).toBe(1);
    expect(await whose('SELECT user_id AS whose FROM deposits')).toEqual(new Set([alice]));
    expect(await whose('SELECT user_id AS whose FROM deposit_addresses')).toEqual(new Set([alice]));
    // The chat of a trade: its parties see it whole, anyone else nothing.
    expect(await whose('SELECT sender_id AS whose FROM trade_messages')).toEqual(new Set([alice, bob]));
    const asCarol = h.runtime.db.withSettings(asUser(carol)).primary;
    expect(await asCarol.query('SELECT id FROM trade_messages WHERE trade_id = $1', [tradeId])).toEqual([]);
    expect(await asCarol.query('SELECT id FROM withdrawals WHERE id = $1', [aliceWithdrawal])).toEqual([]);
    // The setting lasts its statement's transaction: the next statement on the pool names nobody again.
    expect(await seenAs('withdrawals')).toBe(0);
  });

  it('when it acts as the system, then it sees every row', async () => {
    for (const table of Object.keys(PRIVATE) as Array<keyof typeof PRIVATE>) {
      const [all] = await h.testDb.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
      expect([table, await seenAs(table, AS_SYSTEM)]).toEqual([table, all!.n]);
    }
  });

  it('when a user writes a row for someone else, or anyone writes the ledger directly, then Postgres refuses it', async () => {
    const asAlice = (sql: string, params: unknown[]) =>
      h.runtime.db.transaction((tx) => tx.query(sql, params), { settings: asUser(alice) });
    await expect(
      asAlice(
        `INSERT INTO withdrawals (id, user_id, asset, amount, address, status) VALUES (gen_random_uuid(), $1, 'BTC', 1, 'x', 'CANCELLED')`,
        [bob],
      ),
    ).rejects.toMatchObject({ code: '42501' });
    await expect(asAlice('UPDATE withdrawals SET user_id = $1 RETURNING id', [bob])).rejects.toMatchObject({
      code: '42501',
    });
    await expect(
      asAlice(
        `INSERT INTO deposits (id, user_id, asset, amount, status, source, credited_at) VALUES (gen_random_uuid(), $1, 'BTC', 1, 'CREDITED', 'FAUCET', now())`,
        [bob],
      ),
    ).rejects.toMatchObject({ code: '42501' });
    await expect(
      asAlice(
        `INSERT INTO deposit_addresses (user_id, asset, network, address, address_key) VALUES ($1, 'ETH', 'x', 'y', 'y')`,
        [bob],
      ),
    ).rejects.toMatchObject({ code: '42501' });
    // alice writes in bob's name, carol in a chat that is not hers.
    await expect(
      asAlice('INSERT INTO trade_messages (id, trade_id, sender_id, body) VALUES (gen_random_uuid(), $1, $2, $3)', [
        tradeId,
        bob,
        'forged',
      ]),
    ).rejects.toMatchObject({ code: '42501' });
    await expect(
      h.runtime.db.transaction(
        (tx) =>
          tx.query(
            'INSERT INTO trade_messages (id, trade_id, sender_id, body) VALUES (gen_random_uuid(), $1, $2, $3)',
            [tradeId, carol, 'hello'],
          ),
        { settings: asUser(carol) },
      ),
    ).rejects.toMatchObject({ code: '42501' });
    // The ledger's tables are written by its functions alone (they run as the tables' owner), even by the system.
    const asSystem = h.runtime.db.withSettings(AS_SYSTEM).primary;
    await expect(
      asSystem.query(`INSERT INTO accounts (kind, owner_id, asset) VALUES ('AVAILABLE', 'rls-mallory', 'BTC')`),
    ).rejects.toMatchObject({ code: '42501' });
    expect(await asSystem.query('UPDATE accounts SET balance = balance RETURNING id')).toEqual([]);
    expect(await asSystem.query('DELETE FROM entries RETURNING id')).toEqual([]);
  });

  it('when the routes serve a user, then they answer the owner and nobody else', async () => {
    const get = (path: string, userId: string, roles?: Parameters<Harness['as']>[1]) =>
      request(h.app).get(path).set(h.as(userId, roles));
    expect((await get(`/api/v1/wallet/withdrawals/${aliceWithdrawal}`, alice)).status).toBe(200);
    expect((await get(`/api/v1/wallet/withdrawals/${aliceWithdrawal}`, bob)).status).toBe(404);
    expect((await get('/api/v1/wallet/withdrawals', alice)).body.data.map((w: { id: string }) => w.id)).toEqual([
      aliceWithdrawal,
    ]);
    const balances = (await get('/api/v1/wallet/balances', alice)).body.data;
    expect(balances.find((b: { asset: string }) => b.asset === 'BTC').available).not.toBe('0.00000000');
    const ledger = (await get('/api/v1/wallet/ledger', bob)).body.data;
    expect(ledger.length).toBeGreaterThan(0);
    const [hers] = await h.testDb.query<{ n: number }>('SELECT count(*)::int AS n FROM deposits WHERE user_id = $1', [
      alice,
    ]);
    expect(hers!.n).toBeGreaterThan(0);
    expect((await get('/api/v1/wallet/deposits', alice)).body.data).toHaveLength(hers!.n);
    expect((await get('/api/v1/wallet/deposit-address?asset=BTC', bob)).status).toBe(200);
    expect((await get(`/api/v1/trades/${tradeId}/messages`, bob)).body.data).toHaveLength(2);
    expect((await get(`/api/v1/trades/${tradeId}/messages`, carol)).status).toBe(404);
    // Admins, as the system: every user's withdrawals, any trade's chat, the whole ledger.
    const admin = ['user', 'admin'] as const;
    const all = (await get('/api/v1/admin/withdrawals', ADMIN, [...admin])).body.data;
    expect(new Set(all.map((w: { userId: string }) => w.userId))).toEqual(new Set([alice, bob, carol]));
    const [transitions] = await h.testDb.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM withdrawal_transitions WHERE withdrawal_id = $1',
      [aliceWithdrawal],
    );
    expect(
      (await get(`/api/v1/admin/withdrawals/${aliceWithdrawal}`, ADMIN, [...admin])).body.transitions,
    ).toHaveLength(transitions!.n);
    expect((await get(`/api/v1/trades/${tradeId}/messages`, ADMIN, [...admin])).body.data).toHaveLength(2);
    expect((await get('/api/v1/admin/ledger/verify', ADMIN, [...admin])).body.ok).toBe(true);
  });
});
