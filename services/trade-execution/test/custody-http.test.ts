import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { sendClaimMs, sendWithdrawal } from '../src/domain/withdrawals.use-case';
import { balance, verify } from './factories';
import { ADDRESSES, custodyDeposit, systemBalance, withdraw } from './custody-helpers';
import { createHarness, type Harness } from './harness';

/** The stub's address for a user and asset: an EVM address (lower case, no checksum), different for each. */
const stubAddress = (userId: unknown, asset: unknown) =>
  `0x${createHash('sha256').update(`${userId}:${asset}`).digest('hex').slice(0, 40)}`;

type Behaviour = 'ok' | 'error' | 'hang' | 'refuse' | 'bad-address';

/**
 * A custody provider on a local port that behaves as told, request by request: answers, fails with 503, never
 * answers (after taking the withdrawal, as a provider whose answer is lost), or refuses. Like a real one it takes
 * each withdrawal once per Idempotency-Key and answers 409 to a repeat.
 */
class StubCustody {
  readonly requests: Array<{ path: string; key: string | undefined; body: Record<string, unknown> }> = [];
  readonly taken = new Map<string, Record<string, unknown>>();
  readonly plan: Behaviour[] = [];
  private readonly hanging: Array<() => void> = [];
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer(
      (req, res) =>
        void this.handle(req).then(({ status, body }) => {
          if (status === 0) return void this.hanging.push(() => res.destroy());
          res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        }),
    );
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; body: unknown }> {
    let text = '';
    for await (const chunk of req) text += chunk;
    const body = JSON.parse(text) as Record<string, unknown>;
    const key = req.headers['idempotency-key'] as string | undefined;
    this.requests.push({ path: req.url!, key, body });
    const behaviour = this.plan.shift() ?? 'ok';
    if (req.headers.authorization !== 'Bearer stub-api-key') return { status: 401, body: {} };
    if (req.url === '/v1/addresses')
      return behaviour === 'bad-address'
        ? { status: 200, body: { address: 'not-an-address' } }
        : { status: 200, body: { address: stubAddress(body.userId, body.asset) } };
    if (behaviour === 'error') return { status: 503, body: { error: 'maintenance' } };
    if (behaviour === 'refuse') return { status: 422, body: { error: 'address refused' } };
    const repeat = this.taken.has(key!);
    if (!repeat) this.taken.set(key!, body);
    if (behaviour === 'hang') return { status: 0, body: null };
    return { status: repeat ? 409 : 202, body: { id: key } };
  }

  async stop(): Promise<void> {
    for (const drop of this.hanging) drop();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

describe('custody: the http provider against a provider that times out, fails and answers twice', () => {
  let h: Harness;
  const stub = new StubCustody();

  beforeAll(async () => {
    await stub.start();
    h = await createHarness({
      CUSTODY_PROVIDER: 'http',
      CUSTODY_URL: stub.url,
      CUSTODY_API_KEY: 'stub-api-key',
      CUSTODY_TIMEOUT_MS: '300',
      CUSTODY_ATTEMPTS: '3',
    });
  });

  afterAll(async () => {
    await h.close();
    await stub.stop();
  });

  beforeEach(() => {
    stub.plan.length = 0;
  });

  const send = (id: string) =>
    sendWithdrawal(h.custody, id, sendClaimMs(h.config.CUSTODY_TIMEOUT_MS, h.config.CUSTODY_ATTEMPTS));
  const makeDue = (id: string) => h.testDb.query('UPDATE withdrawals SET next_send_at = now() WHERE id = $1', [id]);
  const row = async (id: string) =>
    (
      await h.testDb.query<{
        status: string;
        submitted_at: Date | null;
        send_attempts: number;
        last_send_error: string | null;
      }>('SELECT status, submitted_at, send_attempts, last_send_error FROM withdrawals WHERE id = $1', [id])
    )[0]!;

  it('when custody fails twice and then answers, then the withdrawal is taken once, every attempt carrying the withdrawal id as its key', async () => {
    await custodyDeposit(h, 'h-alice', 'USDT', '100');
    const { body } = await withdraw(h, 'h-alice', 'USDT', '10');
    stub.plan.push('error', 'error', 'ok');
    expect(await send(body.id)).toBe(true);
    const attempts = stub.requests.filter((r) => r.key === body.id);
    expect(attempts).toHaveLength(3);
    expect(attempts[0]!.body).toEqual({
      id: body.id,
      asset: 'USDT',
      amount: '10.000000',
      address: ADDRESSES.USDT,
      network: 'ethereum-mainnet',
    });
    expect(stub.taken.has(body.id)).toBe(true);
    expect(await row(body.id)).toMatchObject({
      status: 'APPROVED',
      send_attempts: 1,
      last_send_error: null,
      submitted_at: expect.any(Date),
    });
    expect(await send(body.id)).toBe(false);
    expect(stub.requests.filter((r) => r.key === body.id)).toHaveLength(3);
  });

  it('when custody never answers (but took it), then the withdrawal is parked with its funds held; the next send is answered as a repeat, nothing is sent twice', async () => {
    await custodyDeposit(h, 'h-bob', 'USDT', '100');
    const { body } = await withdraw(h, 'h-bob', 'USDT', '20');
    stub.plan.push('hang', 'hang', 'hang');
    const started = Date.now();
    await expect(send(body.id)).rejects.toThrow(/no answer within 300 ms \(after 3 attempts\)/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(await row(body.id)).toMatchObject({
      status: 'APPROVED',
      submitted_at: null,
      send_attempts: 1,
      last_send_error: expect.stringContaining('no answer'),
    });
    expect(await balance(h, 'h-bob', 'USDT')).toMatchObject({ available: '79.000000' });
    expect(await send(body.id)).toBe(false);

    await makeDue(body.id);
    expect(await send(body.id)).toBe(true);
    expect(stub.requests.filter((r) => r.key === body.id)).toHaveLength(4);
    expect([...stub.taken.keys()].filter((k) => k === body.id)).toHaveLength(1);
    expect(await row(body.id)).toMatchObject({ status: 'APPROVED', send_attempts: 2, submitted_at: expect.any(Date) });
    const metrics = await request(h.app).get('/metrics');
    expect(metrics.text).toMatch(/custody_call_failures_total\{[^}]*outcome="unavailable"[^}]*\} 1/);
    expect(metrics.text).toMatch(
      /custody_call_duration_seconds_count\{[^}]*operation="send"[^}]*outcome="ok"[^}]*\} \d/,
    );
  });

  it('when custody refuses a withdrawal, then it is FAILED and amount and fee come back once', async () => {
    await custodyDeposit(h, 'h-carol', 'USDT', '100');
    const { body } = await withdraw(h, 'h-carol', 'USDT', '30');
    stub.plan.push('refuse');
    expect(await send(body.id)).toBe(false);
    expect(await row(body.id)).toMatchObject({ status: 'FAILED' });
    expect(
      (await request(h.app).get(`/api/v1/wallet/withdrawals/${body.id}`).set(h.as('h-carol'))).body.withdrawal,
    ).toMatchObject({ status: 'FAILED', failureReason: 'custody answered 422' });
    expect(await balance(h, 'h-carol', 'USDT')).toMatchObject({ available: '100.000000' });
    expect(await send(body.id)).toBe(false);
    // What is still out: h-alice's 10 + 1 and h-bob's 20 + 1, taken by custody but not confirmed yet.
    expect(await systemBalance(h, 'PENDING_WITHDRAWAL', 'USDT')).toBe('32.00000000');
    expect((await verify(h)).ok).toBe(true);
  });

  it('when custody gives deposit addresses, then they are asked once and kept; an address that is not valid is never published (503)', async () => {
    const first = await request(h.app).get('/api/v1/wallet/deposit-address?asset=ETH').set(h.as('h-dave'));
    expect(first.body).toEqual({ asset: 'ETH', network: 'ethereum-mainnet', address: stubAddress('h-dave', 'ETH') });
    const asked = stub.requests.filter((r) => r.path === '/v1/addresses').length;
    expect((await request(h.app).get('/api/v1/wallet/deposit-address?asset=ETH').set(h.as('h-dave'))).body).toEqual(
      first.body,
    );
    expect(stub.requests.filter((r) => r.path === '/v1/addresses')).toHaveLength(asked);
    stub.plan.push('bad-address');
    const bad = await request(h.app).get('/api/v1/wallet/deposit-address?asset=USDC').set(h.as('h-erin'));
    expect(bad.status).toBe(503);
    expect(bad.body.code).toBe('CUSTODY.UNAVAILABLE');
  });
});
