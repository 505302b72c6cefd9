import { execFile } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { Pool } from 'pg';
import { Api, login, newUser, until } from '../src/client';
import { balances, expectLedgerBalanced } from '../src/invariants';
import { ADMIN, startStack, type Stack } from '../src/stack';
import { ROOT } from '@orrange/stack/services';

const run = promisify(execFile);
/** The stack's webhook secret (the development default unless the environment sets one). */
const SECRET = process.env.CUSTODY_WEBHOOK_SECRET ?? 'dev-custody-webhook-secret-change-me-0123456789';
const USDT_ADDRESS = '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359';

/**
 * Issue 16 through the whole stack: money arrives by `pnpm custody:deposit` (a signed webhook through the
 * gateway), and withdrawals finish through the simulated custody's signed webhooks, also across a kill -9 of
 * trade-execution while it is sending them.
 */
describe('end to end: money in and out through the simulated custody', () => {
  let stack: Stack;
  let api: Api;
  let admin: Api;
  let pool: Pool;

  beforeAll(async () => {
    stack = await startStack({
      env: {
        CUSTODY_TIMEOUT_MS: '1000',
        CUSTODY_SWEEP_MS: '100',
        CUSTODY_SIMULATED_BROADCAST_MS: '200',
        CUSTODY_SIMULATED_CONFIRM_MS: '300',
      },
    });
    api = new Api(stack.gatewayUrl);
    admin = await login(api, ADMIN.email, ADMIN.password);
    pool = new Pool({ connectionString: stack.testDb.url, max: 2 });
  });

  afterAll(async () => {
    await pool?.end();
    await stack?.stop();
  });

  const custodyDeposit = (email: string, asset: string, amount: string, ...more: string[]) =>
    run('pnpm', ['custody:deposit', email, asset, amount, ...more], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: stack.testDb.url, GATEWAY_URL: stack.gatewayUrl, NODE_ENV: 'development' },
    });

  const withdrawalStatus = async (user: Api, id: string) =>
    (await user.get(`/api/v1/wallet/withdrawals/${id}`)).body.withdrawal?.status as string | undefined;

  it('when pnpm custody:deposit runs for a user, then the deposit arrives at their deposit address; a replayed webhook is not credited again', async () => {
    const user = await newUser(api, 'cust');
    const { stdout } = await custodyDeposit(user.email, 'USDT', '1500');
    expect(stdout).toContain('→ 200');
    const address = (await user.api.get('/api/v1/wallet/deposit-address?asset=USDT')).body.address;
    expect(stdout).toContain(address);
    expect((await balances(user.api)).USDT.available).toBe(1_500_000_000n);
    const deposits = (await user.api.get('/api/v1/wallet/deposits')).body.data;
    expect(deposits).toEqual([
      expect.objectContaining({ asset: 'USDT', amount: '1500.000000', status: 'CREDITED', confirmations: 12 }),
    ]);

    const body = JSON.stringify({
      id: randomUUID(),
      type: 'deposit.confirmed',
      asset: 'USDT',
      address,
      txid: deposits[0].txid,
      index: 0,
      amount: '1500',
      confirmations: 13,
    });
    const t = Math.floor(Date.now() / 1000);
    const signature = `t=${t},v1=${createHmac('sha256', SECRET).update(`${t}.${body}`).digest('hex')}`;
    const replays = await Promise.all(
      Array.from({ length: 5 }, () =>
        fetch(`${stack.gatewayUrl}/api/v1/custody/webhooks`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-orrange-signature': signature },
          body,
        }),
      ),
    );
    expect(replays.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    const unsigned = await fetch(`${stack.gatewayUrl}/api/v1/custody/webhooks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(unsigned.status).toBe(401);
    expect((await balances(user.api)).USDT.available).toBe(1_500_000_000n);

    const pending = await custodyDeposit(user.email, 'BTC', '0.5', '1');
    expect(pending.stdout).toContain('"status":"PENDING"');
    expect((await balances(user.api)).BTC.available).toBe(0n);
    await expect(custodyDeposit('nobody@e2e.test', 'BTC', '1')).rejects.toMatchObject({
      stderr: expect.stringContaining('no user'),
    });
    await expectLedgerBalanced(admin);
  });

  it('when withdrawals are taken, then small ones finish by themselves, a large one after an admin approves it, and each pays out once', async () => {
    const user = await newUser(api, 'wd');
    await custodyDeposit(user.email, 'USDT', '10000');
    const small = await user.api.post('/api/v1/wallet/withdrawals', {
      asset: 'USDT',
      amount: '100',
      address: USDT_ADDRESS,
    });
    expect(small.status).toBe(201);
    const large = await user.api.post('/api/v1/wallet/withdrawals', {
      asset: 'USDT',
      amount: '6000',
      address: USDT_ADDRESS,
    });
    expect(large.body.withdrawal.status).toBe('PENDING_REVIEW');
    expect(
      (
        await user.api.post('/api/v1/wallet/withdrawals', {
          asset: 'USDT',
          amount: '1',
          address: USDT_ADDRESS.replace('fB', 'Fb'),
        })
      ).body.code,
    ).toBe('WALLET.INVALID_ADDRESS');
    await until(async () => (await withdrawalStatus(user.api, small.body.id)) === 'CONFIRMED');
    expect((await admin.post(`/api/v1/admin/withdrawals/${large.body.id}/approve`, { note: 'checked' })).status).toBe(
      200,
    );
    await until(async () => (await withdrawalStatus(user.api, large.body.id)) === 'CONFIRMED');
    // 10,000 − 100 − 6,000 − two fees of 1
    expect((await balances(user.api)).USDT.available).toBe(3_898_000_000n);
    await expectLedgerBalanced(admin);
  });

  it('when trade-execution is killed -9 while it sends withdrawals to custody, then after its restart each is sent and paid out exactly once', async () => {
    const user = await newUser(api, 'k9');
    await custodyDeposit(user.email, 'USDT', '1000');
    const ids: string[] = [];
    for (let i = 0; i < 10; i++)
      ids.push(
        (await user.api.post('/api/v1/wallet/withdrawals', { asset: 'USDT', amount: '10', address: USDT_ADDRESS })).body
          .id,
      );
    await stack.kill9('trade-execution');
    await stack.restart('trade-execution');
    // A send claimed when the process died waits out its claim (sendClaimMs: about 8 s with a 1 s timeout) first.
    await until(
      async () => (await Promise.all(ids.map((id) => withdrawalStatus(user.api, id)))).every((s) => s === 'CONFIRMED'),
      45_000,
    );
    const sends = await pool.query(
      'SELECT count(*)::int AS n FROM trade.simulated_custody_sends WHERE withdrawal_id = ANY($1::uuid[])',
      [ids],
    );
    expect(sends.rows[0].n).toBe(10);
    const payouts = await pool.query(
      "SELECT count(*)::int AS n FROM trade.journals WHERE kind = 'WITHDRAWAL_PAYOUT' AND ref = ANY($1::text[])",
      [ids],
    );
    expect(payouts.rows[0].n).toBe(10);
    expect((await balances(user.api)).USDT.available).toBe(1000_000_000n - 10n * 11_000_000n);
    await expectLedgerBalanced(admin);
  });
});
