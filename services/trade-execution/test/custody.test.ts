import request from 'supertest';
import { randomUUID } from 'node:crypto';
import { eventually } from '@orrange/testing';
import { AS_SYSTEM } from '@orrange/db';
import { isValidAddress } from '../src/domain/addresses/addresses';
import { signWebhook } from '../src/domain/custody-webhook';
import { transition } from '../src/domain/withdrawals.use-case';
import { ADMIN, balance, verify } from './factories';
import {
  ADDRESSES,
  custodyDeposit,
  depositAddress,
  depositEvent,
  postWebhook,
  systemBalance,
  withdraw,
  withdrawalOf,
} from './custody-helpers';
import { createHarness, type Harness } from './harness';

const admin = (h: Harness) => h.as(ADMIN, ['user', 'admin']);

async function rejectedEvents(h: Harness): Promise<Array<{ reason: string }>> {
  return h.runtime.db.query<{ reason: string }>('SELECT reason FROM custody_rejected_events ORDER BY id');
}

describe('custody: deposit addresses and signed deposit webhooks', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness({ CUSTODY_SIMULATED_BROADCAST_MS: '0', CUSTODY_SIMULATED_CONFIRM_MS: '0' });
  });

  afterAll(() => h.close());

  it("when a user asks for a deposit address, then it is the same every time, in the asset's real format, and differs per user and asset", async () => {
    const first = await request(h.app).get('/api/v1/wallet/deposit-address?asset=BTC').set(h.as('d-alice'));
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ asset: 'BTC', network: 'bitcoin-mainnet', address: expect.stringMatching(/^bc1q/) });
    expect((await request(h.app).get('/api/v1/wallet/deposit-address?asset=BTC').set(h.as('d-alice'))).body).toEqual(
      first.body,
    );
    const eth = await depositAddress(h, 'd-alice', 'ETH');
    expect(eth).toMatch(/^0x[0-9a-fA-F]{40}$/);
    expect(isValidAddress('ETH', eth, h.custody.networks)).toBe(true);
    expect(await depositAddress(h, 'd-alice', 'USDT')).not.toBe(eth);
    expect(await depositAddress(h, 'd-bob', 'BTC')).not.toBe(first.body.address);
    expect((await request(h.app).get('/api/v1/wallet/deposit-address?asset=DOGE').set(h.as('d-alice'))).status).toBe(
      400,
    );
    expect((await request(h.app).get('/api/v1/wallet/deposit-address?asset=BTC&x=1').set(h.as('d-alice'))).status).toBe(
      400,
    );
    expect((await request(h.app).get('/api/v1/wallet/deposit-address?asset=BTC')).status).toBe(401);
  });

  it.each([
    ['signed with another secret', { secret: 'another-secret-of-enough-length-000' }],
    ['6 minutes old', { ageSeconds: 360 }],
    ['without the signature header', { signature: null }],
    ['with a malformed signature header', { signature: 'v1=abc' }],
  ])(
    'when a deposit webhook comes %s, then 401 problem+json and nothing is credited or kept',
    async (_name, options) => {
      const event = await depositEvent(h, 'd-sig', 'BTC', '1');
      const res = await postWebhook(h, event, options);
      expect(res.status).toBe(401);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.body.code).toBe('CUSTODY.INVALID_SIGNATURE');
      expect(await balance(h, 'd-sig', 'BTC')).toMatchObject({ available: '0.00000000' });
      expect(await h.testDb.query('SELECT 1 FROM deposits WHERE user_id = $1', ['d-sig'])).toHaveLength(0);
      expect(await rejectedEvents(h)).toHaveLength(0);
    },
  );

  it('when a signed body is tampered with (the amount raised), then 401 and nothing is credited', async () => {
    const event = await depositEvent(h, 'd-sig', 'BTC', '1');
    const signed = JSON.stringify(event);
    const signature = signWebhook(h.config.CUSTODY_WEBHOOK_SECRET, signed);
    const res = await postWebhook(h, signed.replace('"amount":"1"', '"amount":"100"'), { signature });
    expect(res.status).toBe(401);
    expect(await balance(h, 'd-sig', 'BTC')).toMatchObject({ available: '0.00000000' });
  });

  it('when a deposit has fewer confirmations than the asset needs, then it is PENDING; once it has them, it is credited once', async () => {
    const event = await depositEvent(h, 'd-carol', 'ETH', '1.25', { confirmations: 3 });
    const pending = await postWebhook(h, event);
    expect(pending.status).toBe(200);
    expect(pending.body).toMatchObject({ status: 'PENDING', applied: false });
    expect(await balance(h, 'd-carol', 'ETH')).toMatchObject({ available: '0.00000000' });
    const list = await request(h.app).get('/api/v1/wallet/deposits').set(h.as('d-carol'));
    expect(list.body.data).toEqual([
      expect.objectContaining({
        asset: 'ETH',
        amount: '1.25000000',
        txid: event.txid,
        confirmations: 3,
        status: 'PENDING',
      }),
    ]);

    const confirmed = await postWebhook(h, { ...event, id: randomUUID(), confirmations: 12 });
    expect(confirmed.body).toMatchObject({ status: 'CREDITED', applied: true });
    const again = await postWebhook(h, { ...event, id: randomUUID(), confirmations: 40 });
    expect(again.body).toMatchObject({ status: 'CREDITED', applied: false });
    expect(await balance(h, 'd-carol', 'ETH')).toMatchObject({ available: '1.25000000' });
    expect((await request(h.app).get('/api/v1/wallet/deposits').set(h.as('d-carol'))).body.data).toEqual([
      expect.objectContaining({ confirmations: 40, status: 'CREDITED' }),
    ]);
    expect((await verify(h)).ok).toBe(true);
  });

  it('when the same deposit is delivered 20 times at once, then it is credited exactly once', async () => {
    const event = await depositEvent(h, 'd-dave', 'USDT', '250.5');
    const answers = await Promise.all(Array.from({ length: 20 }, () => postWebhook(h, event)));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    expect(answers.filter((a) => a.body.applied)).toHaveLength(1);
    expect(await balance(h, 'd-dave', 'USDT')).toMatchObject({ available: '250.500000' });
    expect(
      await h.testDb.query(
        "SELECT 1 FROM journals WHERE kind = 'DEPOSIT' AND ref IN (SELECT id::text FROM deposits WHERE user_id = 'd-dave')",
      ),
    ).toHaveLength(1);
    expect((await verify(h)).ok).toBe(true);
  });

  it('when the same deposit is reported again with its hex txid in upper case, then it is the same deposit, credited once', async () => {
    const event = await depositEvent(h, 'd-gina', 'ETH', '0.75', { txid: `0x${'ab'.repeat(32)}` });
    expect((await postWebhook(h, event)).body).toMatchObject({ status: 'CREDITED', applied: true });
    const shouted = await postWebhook(h, { ...event, id: randomUUID(), txid: `0X${'AB'.repeat(32)}` });
    expect(shouted.status).toBe(200);
    expect(shouted.body).toMatchObject({ status: 'CREDITED', applied: false });
    expect(await balance(h, 'd-gina', 'ETH')).toMatchObject({ available: '0.75000000' });
    expect((await request(h.app).get('/api/v1/wallet/deposits').set(h.as('d-gina'))).body.data).toEqual([
      expect.objectContaining({ txid: `0x${'ab'.repeat(32)}` }),
    ]);
    expect((await verify(h)).ok).toBe(true);
  });

  it('when a deposit goes to an unknown address, is malformed, or contradicts a recorded one, then 422, it is kept for operators, and nothing is credited', async () => {
    const before = (await rejectedEvents(h)).length;
    const unknown = await postWebhook(h, { ...(await depositEvent(h, 'd-erin', 'BTC', '1')), address: ADDRESSES.BTC });
    expect(unknown.status).toBe(422);
    expect(unknown.body.code).toBe('CUSTODY.UNKNOWN_ADDRESS');
    const malformed = await postWebhook(h, { ...(await depositEvent(h, 'd-erin', 'BTC', '1')), amount: '1.000000001' });
    expect(malformed.status).toBe(422);
    expect(malformed.body.code).toBe('CUSTODY.MALFORMED');
    expect((await postWebhook(h, '{"not": json')).status).toBe(422);
    expect((await postWebhook(h, { ...(await depositEvent(h, 'd-erin', 'BTC', '1')), userId: 'd-erin' })).status).toBe(
      422,
    );
    const first = await depositEvent(h, 'd-erin', 'BTC', '0.5');
    expect((await postWebhook(h, first)).status).toBe(200);
    const contradicting = await postWebhook(h, { ...first, id: randomUUID(), amount: '5' });
    expect(contradicting.status).toBe(422);
    expect(contradicting.body.code).toBe('CUSTODY.CONFLICT');
    expect((await rejectedEvents(h)).slice(before).map((r) => r.reason)).toEqual([
      'UNKNOWN_ADDRESS',
      'MALFORMED',
      'MALFORMED',
      'MALFORMED',
      'CONFLICT',
    ]);
    expect(await balance(h, 'd-erin', 'BTC')).toMatchObject({ available: '0.50000000' });
    const metrics = await request(h.app).get('/metrics');
    expect(metrics.text).toMatch(/custody_webhooks_rejected_total\{[^}]*reason="unknown_address"[^}]*\} 1/);
    expect(metrics.text).toMatch(/deposits_credited_total\{[^}]*asset="BTC"[^}]*\} [1-9]/);
  });

  it("when deposits are listed, then they come newest first with a working cursor, and only the caller's", async () => {
    for (const amount of ['1', '2', '3']) await custodyDeposit(h, 'd-frank', 'USDC', amount);
    const first = await request(h.app).get('/api/v1/wallet/deposits?limit=2').set(h.as('d-frank'));
    expect(first.body.data.map((d: { amount: string }) => d.amount)).toEqual(['3.000000', '2.000000']);
    const second = await request(h.app)
      .get(`/api/v1/wallet/deposits?limit=2&cursor=${first.body.nextCursor}`)
      .set(h.as('d-frank'));
    expect(second.body.data.map((d: { amount: string }) => d.amount)).toEqual(['1.000000']);
    expect(second.body.nextCursor).toBeNull();
    expect((await request(h.app).get('/api/v1/wallet/deposits?cursor=nope').set(h.as('d-frank'))).status).toBe(400);
    expect((await request(h.app).get('/api/v1/wallet/deposits').set(h.as('d-nobody'))).body.data).toEqual([]);
  });
});

describe('custody: withdrawals from request to confirmation, review, cancel and failure', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness({
      CUSTODY_SIMULATED_BROADCAST_MS: '0',
      CUSTODY_SIMULATED_CONFIRM_MS: '0',
      WITHDRAWAL_DAILY_MAX: 'BTC:2,ETH:50,USDT:3000,USDC:100000',
    });
  });

  afterAll(() => h.close());

  it.each([
    ['BTC', 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdr'],
    ['BTC', '1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb'],
    ['BTC', 'tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7'],
    ['ETH', '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD'],
    ['USDT', '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d35'],
    ['USDC', 'T-address'],
  ] as const)(
    'when a %s withdrawal goes to %s (corrupted or of another network), then 400 WALLET.INVALID_ADDRESS and nothing moves',
    async (asset, address) => {
      await custodyDeposit(h, 'w-inv', asset, '1');
      const before = await balance(h, 'w-inv', asset);
      const res = await withdraw(h, 'w-inv', asset, '0.1', address);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.body.code).toBe('WALLET.INVALID_ADDRESS');
      expect(await balance(h, 'w-inv', asset)).toEqual(before);
    },
  );

  it.each([
    ['an unknown field', { asset: 'BTC', amount: '0.1', address: ADDRESSES.BTC, status: 'CONFIRMED' }],
    ['no address', { asset: 'BTC', amount: '0.1' }],
    ['a numeric amount', { asset: 'BTC', amount: 0.1, address: ADDRESSES.BTC }],
    ['too many decimals', { asset: 'USDT', amount: '1.0000001', address: ADDRESSES.USDT }],
    ['an address of 200 characters', { asset: 'ETH', amount: '0.1', address: `0x${'a'.repeat(198)}` }],
  ])('when a withdrawal has %s, then 400 and nothing moves', async (_name, body) => {
    const res = await request(h.app).post('/api/v1/wallet/withdrawals').set(h.as('w-inv')).send(body);
    expect(res.status).toBe(400);
    expect(await h.testDb.query("SELECT 1 FROM withdrawals WHERE user_id = 'w-inv'")).toHaveLength(0);
  });

  it('when a small withdrawal is requested, then it is APPROVED at once, sent, broadcast and confirmed: amount to EXTERNAL, fee to FEES', async () => {
    await custodyDeposit(h, 'w-alice', 'BTC', '1');
    const externalBefore = await systemBalance(h, 'EXTERNAL', 'BTC');
    const res = await withdraw(h, 'w-alice', 'BTC', '0.05');
    expect(res.status).toBe(201);
    expect(res.body.withdrawal).toMatchObject({
      asset: 'BTC',
      amount: '0.05000000',
      fee: '0.00020000',
      address: ADDRESSES.BTC,
      status: 'APPROVED',
      txid: null,
    });
    expect(res.body.id).toBe(res.body.withdrawal.id);
    expect(await balance(h, 'w-alice', 'BTC')).toMatchObject({ available: '0.94980000' });
    expect(await h.withdrawals.sweepNow()).toBe(1);
    expect(await h.simulatedChain!.sweepNow()).toBe(1);
    expect(await withdrawalOf(h, 'w-alice', res.body.id)).toMatchObject({
      status: 'BROADCAST',
      txid: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(await h.simulatedChain!.sweepNow()).toBe(1);
    expect(await withdrawalOf(h, 'w-alice', res.body.id)).toMatchObject({ status: 'CONFIRMED' });
    expect(await h.simulatedChain!.sweepNow()).toBe(0);
    expect(Number(await systemBalance(h, 'EXTERNAL', 'BTC')) - Number(externalBefore)).toBeCloseTo(0.05, 8);
    expect(await systemBalance(h, 'FEES', 'BTC')).toBe('0.00020000');
    expect(await systemBalance(h, 'PENDING_WITHDRAWAL', 'BTC')).toBe('0.00000000');
    expect(await balance(h, 'w-alice', 'BTC')).toMatchObject({ available: '0.94980000' });
    const list = await request(h.app).get('/api/v1/wallet/withdrawals').set(h.as('w-alice'));
    expect(list.body.data).toEqual([expect.objectContaining({ id: res.body.id, status: 'CONFIRMED' })]);
    expect((await request(h.app).get(`/api/v1/wallet/withdrawals/${res.body.id}`).set(h.as('w-mallory'))).status).toBe(
      404,
    );
    expect((await verify(h)).ok).toBe(true);
  });

  it('when a withdrawal is above the auto-approval amount, then it waits in PENDING_REVIEW and is not sent', async () => {
    await custodyDeposit(h, 'w-bob', 'ETH', '10');
    const res = await withdraw(h, 'w-bob', 'ETH', '5');
    expect(res.body.withdrawal).toMatchObject({ status: 'PENDING_REVIEW', fee: '0.00200000' });
    expect(await h.withdrawals.sweepNow()).toBe(0);
    const queue = await request(h.app).get('/api/v1/admin/withdrawals?status=PENDING_REVIEW').set(admin(h));
    expect(queue.status).toBe(200);
    expect(queue.body.data).toEqual([
      expect.objectContaining({ id: res.body.id, userId: 'w-bob', status: 'PENDING_REVIEW' }),
    ]);
  });

  it('when cancel and approve race on a withdrawal in review, then exactly one wins and the funds follow it once', async () => {
    for (let round = 0; round < 5; round += 1) {
      const user = `w-race-${round}`;
      await custodyDeposit(h, user, 'ETH', '10');
      const { body } = await withdraw(h, user, 'ETH', '4');
      const [cancel, approve] = await Promise.all([
        request(h.app).post(`/api/v1/wallet/withdrawals/${body.id}/cancel`).set(h.as(user)),
        request(h.app).post(`/api/v1/admin/withdrawals/${body.id}/approve`).set(admin(h)).send({ note: 'looks fine' }),
      ]);
      expect([cancel.status, approve.status].sort()).toEqual([200, 409]);
      const final = await withdrawalOf(h, user, body.id);
      expect(final.status).toBe(cancel.status === 200 ? 'CANCELLED' : 'APPROVED');
      expect(await balance(h, user, 'ETH')).toMatchObject({
        available: cancel.status === 200 ? '10.00000000' : '5.99800000',
      });
    }
    expect((await verify(h)).ok).toBe(true);
  });

  it('when an admin approves twice, then the second is 409 and it is sent once; a rejection returns amount and fee once', async () => {
    await custodyDeposit(h, 'w-carol', 'USDC', '20000');
    const big = await withdraw(h, 'w-carol', 'USDC', '6000');
    const first = await request(h.app).post(`/api/v1/admin/withdrawals/${big.body.id}/approve`).set(admin(h)).send({});
    expect(first.status).toBe(200);
    expect(first.body.withdrawal).toMatchObject({ status: 'APPROVED', reviewedBy: ADMIN });
    const second = await request(h.app).post(`/api/v1/admin/withdrawals/${big.body.id}/approve`).set(admin(h)).send({});
    expect(second.status).toBe(409);
    expect(second.body.code).toBe('WITHDRAWAL.INVALID_STATE');
    expect(
      (await request(h.app).post(`/api/v1/wallet/withdrawals/${big.body.id}/cancel`).set(h.as('w-carol'))).status,
    ).toBe(409);

    const other = await withdraw(h, 'w-carol', 'USDC', '7000');
    const rejected = await request(h.app)
      .post(`/api/v1/admin/withdrawals/${other.body.id}/reject`)
      .set(admin(h))
      .send({ note: 'address on a sanctions list' });
    expect(rejected.body.withdrawal).toMatchObject({ status: 'REJECTED', note: 'address on a sanctions list' });
    expect(
      (await request(h.app).post(`/api/v1/admin/withdrawals/${other.body.id}/reject`).set(admin(h)).send({})).status,
    ).toBe(409);
    expect(await balance(h, 'w-carol', 'USDC')).toMatchObject({ available: '13999.000000' });
    const detail = await request(h.app).get(`/api/v1/admin/withdrawals/${other.body.id}`).set(admin(h));
    expect(detail.body.transitions.map((t: { to: string; actor: string }) => `${t.to}:${t.actor}`)).toEqual([
      'PENDING_REVIEW:w-carol',
      `REJECTED:${ADMIN}`,
    ]);
    const reviews = await h.runtime.db.query<{
      payload: { withdrawalId: string; decision: string; reviewedBy: string; note: string | null };
    }>(
      "SELECT payload FROM outbox WHERE type = 'withdrawal.reviewed' AND payload->>'withdrawalId' = ANY($1::text[]) ORDER BY seq",
      [[big.body.id, other.body.id]],
    );
    expect(reviews.map((r) => r.payload)).toEqual([
      expect.objectContaining({ withdrawalId: big.body.id, decision: 'APPROVED', reviewedBy: ADMIN, note: null }),
      expect.objectContaining({
        withdrawalId: other.body.id,
        decision: 'REJECTED',
        reviewedBy: ADMIN,
        note: 'address on a sanctions list',
        userId: 'w-carol',
        amount: '7000.000000',
      }),
    ]);
    expect(
      (await request(h.app).post(`/api/v1/admin/withdrawals/${randomUUID()}/approve`).set(admin(h)).send({})).status,
    ).toBe(404);
    expect(
      (await request(h.app).post('/api/v1/admin/withdrawals/not-a-uuid/approve').set(admin(h)).send({})).status,
    ).toBe(400);
    expect(
      (
        await request(h.app)
          .post(`/api/v1/admin/withdrawals/${other.body.id}/reject`)
          .set(admin(h))
          .send({ note: 'x', amount: '1' })
      ).status,
    ).toBe(400);
    // Sent once, however often the sweep runs (other tests' approved withdrawals go in the same sweeps).
    await h.withdrawals.sweepNow();
    await h.withdrawals.sweepNow();
    expect(
      await h.runtime.db.query('SELECT 1 FROM simulated_custody_sends WHERE withdrawal_id = $1', [big.body.id]),
    ).toHaveLength(1);
    expect(
      await h.testDb.query('SELECT 1 FROM withdrawals WHERE id = $1 AND submitted_at IS NOT NULL', [big.body.id]),
    ).toHaveLength(1);
    expect((await verify(h)).ok).toBe(true);
  });

  it('when custody reports a broadcast withdrawal failed, then amount and fee come back exactly once, and a later confirmation is refused', async () => {
    await custodyDeposit(h, 'w-dave', 'USDT', '100');
    const { body } = await withdraw(h, 'w-dave', 'USDT', '40');
    await h.withdrawals.sweepNow();
    await h.simulatedChain!.sweepNow();
    expect(await withdrawalOf(h, 'w-dave', body.id)).toMatchObject({ status: 'BROADCAST' });
    const failed = {
      id: randomUUID(),
      type: 'withdrawal.failed',
      withdrawalId: body.id,
      reason: 'dropped from the mempool',
    };
    const answers = await Promise.all(Array.from({ length: 5 }, () => postWebhook(h, failed)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(answers.filter((a) => a.body.applied)).toHaveLength(1);
    expect(await withdrawalOf(h, 'w-dave', body.id)).toMatchObject({
      status: 'FAILED',
      failureReason: 'dropped from the mempool',
    });
    expect(await balance(h, 'w-dave', 'USDT')).toMatchObject({ available: '100.000000' });
    const lateConfirmation = await postWebhook(h, {
      id: randomUUID(),
      type: 'withdrawal.confirmed',
      withdrawalId: body.id,
      txid: 'ab'.repeat(32),
    });
    expect(lateConfirmation.status).toBe(422);
    expect(lateConfirmation.body.code).toBe('CUSTODY.CONFLICT');
    expect(await balance(h, 'w-dave', 'USDT')).toMatchObject({ available: '100.000000' });
    expect(
      (await postWebhook(h, { id: randomUUID(), type: 'withdrawal.confirmed', withdrawalId: randomUUID(), txid: 'ab' }))
        .body.code,
    ).toBe('CUSTODY.UNKNOWN_WITHDRAWAL');
    expect((await verify(h)).ok).toBe(true);
  });

  it('when a confirmation arrives while the broadcast is being recorded, then it waits for it and the history says it left BROADCAST', async () => {
    await custodyDeposit(h, 'w-gail', 'USDT', '100');
    const { body } = await withdraw(h, 'w-gail', 'USDT', '10');
    await h.withdrawals.sweepNow();
    let rowLocked!: () => void;
    let commitBroadcast!: () => void;
    const locked = new Promise<void>((resolve) => (rowLocked = resolve));
    const broadcastHeld = new Promise<void>((resolve) => (commitBroadcast = resolve));
    // What a broadcast webhook's transaction does, held open.
    const broadcast = h.runtime.db.transaction(
      async (tx) => {
        await transition(
          h.custody,
          tx,
          body.id,
          ['APPROVED'],
          'BROADCAST',
          { id: 'custody' },
          { txid: 'cd'.repeat(32) },
        );
        rowLocked();
        await broadcastHeld;
      },
      { settings: AS_SYSTEM },
    );
    await locked;
    const confirmation = postWebhook(h, {
      id: randomUUID(),
      type: 'withdrawal.confirmed',
      withdrawalId: body.id,
      txid: 'cd'.repeat(32),
    }).then((res) => res.body);
    // The confirmation waits on the row the broadcast's transaction holds.
    await eventually(
      async () =>
        (
          await h.runtime.db.query(
            "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
          )
        ).length > 0,
    );
    commitBroadcast();
    await broadcast;
    expect(await confirmation).toMatchObject({ status: 'CONFIRMED', applied: true });
    const detail = await request(h.app).get(`/api/v1/admin/withdrawals/${body.id}`).set(admin(h));
    expect(detail.body.transitions.map((t: { from: string | null; to: string }) => `${t.from}>${t.to}`)).toEqual([
      'null>PENDING_REVIEW',
      'PENDING_REVIEW>APPROVED',
      'APPROVED>BROADCAST',
      'BROADCAST>CONFIRMED',
    ]);
    expect((await verify(h)).ok).toBe(true);
  });

  it('when withdrawals would pass the daily limit, even requested at once, then 409 WALLET.WITHDRAWAL_LIMIT and only what fits is taken', async () => {
    await custodyDeposit(h, 'w-erin', 'USDT', '10000');
    const answers = await Promise.all(Array.from({ length: 8 }, () => withdraw(h, 'w-erin', 'USDT', '1000')));
    expect(answers.filter((a) => a.status === 201)).toHaveLength(3);
    const refused = answers.filter((a) => a.status === 409);
    expect(refused).toHaveLength(5);
    expect(refused[0]!.body.code).toBe('WALLET.WITHDRAWAL_LIMIT');
    expect(await balance(h, 'w-erin', 'USDT')).toMatchObject({ available: '6997.000000' });
    // A cancelled one no longer counts.
    const inReview = await withdraw(h, 'w-frank', 'USDT', '1');
    expect(inReview.status).toBe(409);
    expect(inReview.body.code).toBe('WALLET.INSUFFICIENT_FUNDS');
  });

  it("when someone who is not an admin, or an admin's API key, calls the admin withdrawal routes, then 403", async () => {
    const id = randomUUID();
    expect((await request(h.app).get('/api/v1/admin/withdrawals').set(h.as('w-alice'))).status).toBe(403);
    expect(
      (await request(h.app).post(`/api/v1/admin/withdrawals/${id}/approve`).set(h.as('w-alice')).send({})).status,
    ).toBe(403);
    const { signIdentity } = await import('@orrange/http');
    const adminKey = {
      'x-orrange-identity': signIdentity(
        { userId: ADMIN, roles: ['user', 'admin'], scopes: ['read', 'trade', 'withdraw'], via: 'api-key' },
        h.config.INTERNAL_TOKEN_SECRET,
      ),
    };
    const res = await request(h.app).post(`/api/v1/admin/withdrawals/${id}/approve`).set(adminKey).send({});
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('AUTH.SESSION_REQUIRED');
    expect((await request(h.app).get('/api/v1/admin/withdrawals?status=SOMETHING').set(admin(h))).status).toBe(400);
  });
});
