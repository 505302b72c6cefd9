import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import pg from 'pg';
import { Api, login, newUser, until } from '../src/client';
import { expectLedgerBalanced } from '../src/invariants';
import { ADMIN, startStack, type Stack } from '../src/stack';
import { ROOT } from '@orrange/stack/services';

const run = promisify(execFile);

/** The three secrets a full trade with a dispute plants: in payment details, in the chat, in evidence. */
const CARD = '4539 1488 0343 6467';
const IBAN = 'GB82 WEST 1234 5698 7654 32';
const CHAT_SECRET = 'chat-secret-Zq7pX2vK9m';
/** Each as written and without its spaces (the form a bank form or a log might normalize it to). */
const PLANTED = [CARD, IBAN, CHAT_SECRET].flatMap((secret) => [secret, secret.replace(/ /g, '')]);

const key = () => randomBytes(32).toString('base64');
const OLD_KEY = `old:${key()}`;
const NEW_KEY = `new:${key()}`;
/** The services that seal: the ones restarted with each keyring. */
const SEALING = ['user', 'trade-execution', 'dispute'];

/**
 * Sensitive data at rest through the whole stack (issue 18): after a full trade with a dispute that carries a card
 * number, an IBAN and a chat secret, no column of any table of any schema, and no line any process logged (at
 * debug), holds one of them; then a key rotation: the old rows read under the new keyring, `pnpm
 * secrets:reencrypt` seals them all under the new key, and they still read once the old key is gone.
 */
describe('end to end: secrets at rest', () => {
  let stack: Stack;
  let api: Api;
  let admin: Api;

  beforeAll(async () => {
    stack = await startStack({ env: { LOG_LEVEL: 'debug', ENCRYPTION_KEYS: OLD_KEY } });
    api = new Api(stack.gatewayUrl);
    admin = await login(api, ADMIN.email, ADMIN.password);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  /** Every table column of every schema that holds one of `texts` (bytea as bytes, the rest as text): `schema.table.column`. */
  async function columnsHolding(texts: readonly string[]): Promise<string[]> {
    const client = new pg.Client({ connectionString: stack.testDb.url });
    await client.connect();
    try {
      const { rows: columns } = await client.query<{ schema: string; table: string; column: string; type: string }>(
        `SELECT c.table_schema AS schema, c.table_name AS table, c.column_name AS column, c.data_type AS type
           FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
          WHERE t.table_type = 'BASE TABLE' AND c.table_schema NOT IN ('pg_catalog', 'information_schema')
            AND c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'bytea', 'ARRAY', 'USER-DEFINED')`,
      );
      expect(columns.length).toBeGreaterThan(50);
      const found: string[] = [];
      for (const c of columns) {
        const ref = `"${c.schema}"."${c.table}"`;
        const col = `"${c.column}"`;
        // bytea is searched as bytes; everything else as its text form (jsonb, arrays and enums included).
        const holds =
          c.type === 'bytea' ? `position(convert_to(s, 'UTF8') in ${col}) > 0` : `strpos(${col}::text, s) > 0`;
        const { rows } = await client.query(`SELECT 1 FROM ${ref}, unnest($1::text[]) s WHERE ${holds} LIMIT 1`, [
          texts,
        ]);
        if (rows.length) found.push(`${c.schema}.${c.table}.${c.column}`);
      }
      return found;
    } finally {
      await client.end();
    }
  }

  const columnsHoldingSecrets = () => columnsHolding(PLANTED);
  const logLinesHolding = (texts: readonly string[]) =>
    stack.logs.filter((line) => texts.some((text) => line.includes(text)));
  const logLinesHoldingSecrets = () => logLinesHolding(PLANTED);

  /** What the parties and the admin read back: payment details, the trade's snapshot, chat, evidence, the export. */
  async function readBack(ids: { seller: Api; tradeId: string; disputeId: string }) {
    const methods = await ids.seller.get('/api/v1/users/me/payment-methods');
    const trade = await admin.get(`/api/v1/trades/${ids.tradeId}`);
    const chat = await admin.get(`/api/v1/trades/${ids.tradeId}/messages`);
    const dispute = await admin.get(`/api/v1/disputes/${ids.disputeId}`);
    const exported = await admin.get(`/api/v1/disputes/${ids.disputeId}/export`);
    for (const res of [methods, trade, chat, dispute, exported]) expect(res.status).toBe(200);
    expect(exported.body.verification).toEqual({ verified: true });
    return {
      methods: methods.body.data.map((m: { details: unknown }) => m.details),
      paymentDetails: trade.body.trade.paymentDetails,
      chat: chat.body.data.map((m: { body: string }) => m.body),
      evidence: dispute.body.evidence.map((e: { body: string }) => e.body),
      journal: exported.body.journal
        .filter((e: { action: string }) => e.action === 'EVIDENCE_ADDED')
        .map((e: { data: { body: string } }) => e.data.body),
    };
  }

  async function reencrypt(keys: string): Promise<string> {
    const { stdout } = await run('pnpm', ['secrets:reencrypt'], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: stack.testDb.url, ENCRYPTION_KEYS: keys, NODE_ENV: 'test' },
    });
    return stdout;
  }

  /** Restarts the sealing services with `keys`, and waits until the gateway routes to each of them again. */
  const rekey = async (keys: string, probes: string[]) => {
    for (const label of SEALING) await stack.reconfigure(label, { ENCRYPTION_KEYS: keys });
    await until(
      async () => (await Promise.all(probes.map((path) => admin.get(path)))).every((res) => res.status === 200),
      30_000,
    );
  };

  /** How many sealed values of each place are under the key id `kid`. */
  async function sealedUnder(kid: string): Promise<Record<string, number>> {
    const client = new pg.Client({ connectionString: stack.testDb.url });
    await client.connect();
    try {
      const count = async (sql: string) => (await client.query<{ n: number }>(sql, [kid])).rows[0]!.n;
      return {
        paymentMethods: await count('SELECT count(*)::int AS n FROM users.payment_methods WHERE key_id = $1'),
        tradeSnapshots: await count('SELECT count(*)::int AS n FROM trade.trade_payment_details WHERE key_id = $1'),
        chat: await count('SELECT count(*)::int AS n FROM trade.trade_messages WHERE key_id = $1'),
        evidence: await count('SELECT count(*)::int AS n FROM dispute.evidence WHERE key_id = $1'),
        journal: await count(
          `SELECT count(*)::int AS n FROM dispute.journal_entries WHERE data->>'sealed' LIKE 'v1.' || $1 || '.%'`,
        ),
        answers: await count(
          `SELECT ((SELECT count(*) FROM users.idempotency_keys WHERE response_body LIKE 'v1.' || $1 || '.%')
                 + (SELECT count(*) FROM trade.idempotency_keys WHERE response_body LIKE 'v1.' || $1 || '.%')
                 + (SELECT count(*) FROM dispute.idempotency_keys WHERE response_body LIKE 'v1.' || $1 || '.%'))::int AS n`,
        ),
      };
    } finally {
      await client.end();
    }
  }

  it('when a disputed trade carried a card number, an IBAN and a chat secret, then no column and no log line holds them, and a key rotation re-seals everything', async () => {
    const once = () => ({ 'idempotency-key': randomUUID() });
    const seller = await newUser(api, 's');
    const buyer = await newUser(api, 'b');
    const arbitrator = await newUser(api, 'a');
    expect(
      (await admin.patch(`/api/v1/admin/users/${arbitrator.id}/roles`, { roles: ['user', 'arbitrator'] })).status,
    ).toBe(200);
    const arbitratorApi = await login(api, arbitrator.email, 'correct-horse-battery');

    // The seller's bank details, saved and named by the SELL: the trade keeps a sealed snapshot.
    const details = { iban: IBAN, card: CARD, holder: 'Ada Seller' };
    const method = await seller.api.post(
      '/api/v1/users/me/payment-methods',
      { type: 'SEPA', label: 'Main account', details },
      once(),
    );
    expect(method.status).toBe(201);
    expect(
      (await seller.api.post('/api/v1/wallet/deposits', { asset: 'BTC', amount: '0.02000000' }, once())).status,
    ).toBe(201);
    const ad = await seller.api.post(
      '/api/v1/orders',
      {
        side: 'SELL',
        asset: 'BTC',
        fiatCurrency: 'USD',
        price: '50000.00',
        amount: '0.02000000',
        paymentMethodIds: [method.body.id],
      },
      once(),
    );
    expect(ad.status).toBe(201);
    const take = await buyer.api.post(
      `/api/v1/orders/${ad.body.order.id}/take`,
      { amount: '0.02000000', paymentMethod: 'SEPA' },
      once(),
    );
    expect(take.status).toBe(201);
    const tradeId = take.body.tradeId as string;
    const trade = await until(async () => {
      const res = await buyer.api.get(`/api/v1/trades/${tradeId}`);
      return res.status === 200 ? res.body.trade : undefined;
    });
    expect(trade.paymentDetails.details).toEqual(details);

    // The chat: the buyer's secret, the seller's IBAN.
    const chat = [`${CHAT_SECRET} is my reference`, `pay to ${IBAN} only`];
    expect((await buyer.api.post(`/api/v1/trades/${tradeId}/messages`, { body: chat[0] }, once())).status).toBe(201);
    expect((await seller.api.post(`/api/v1/trades/${tradeId}/messages`, { body: chat[1] }, once())).status).toBe(201);
    expect((await buyer.api.post(`/api/v1/trades/${tradeId}/paid`, {}, once())).status).toBe(200);

    const dispute = await buyer.api.post(
      `/api/v1/trades/${tradeId}/dispute`,
      { reason: 'Paid, the seller does not release.' },
      once(),
    );
    expect(dispute.status).toBe(201);
    const disputeId = dispute.body.disputeId as string;
    await until(async () => (await buyer.api.get(`/api/v1/disputes/${disputeId}`)).status === 200);
    const evidence = [`Paid with card ${CARD} to ${IBAN}, reference ${CHAT_SECRET}`, `Nothing arrived on ${IBAN}`];
    const receipt = [{ name: 'receipt.pdf', sha256: 'a'.repeat(64) }];
    expect(
      (
        await buyer.api.post(
          `/api/v1/disputes/${disputeId}/evidence`,
          { body: evidence[0], attachments: receipt },
          once(),
        )
      ).status,
    ).toBe(201);
    expect(
      (await seller.api.post(`/api/v1/disputes/${disputeId}/evidence`, { body: evidence[1] }, once())).status,
    ).toBe(201);
    expect((await arbitratorApi.post(`/api/v1/disputes/${disputeId}/assign`, {}, once())).status).toBe(200);
    expect(
      (
        await arbitratorApi.post(
          `/api/v1/disputes/${disputeId}/resolve`,
          { outcome: 'RELEASE_TO_BUYER', note: 'Payment proven.' },
          once(),
        )
      ).status,
    ).toBe(200);
    await until(async () => (await buyer.api.get(`/api/v1/trades/${tradeId}`)).body.trade?.status === 'RESOLVED');
    await expectLedgerBalanced(admin);

    const expected = {
      methods: [details],
      paymentDetails: { type: 'SEPA', label: 'Main account', details },
      chat,
      evidence,
      journal: evidence,
    };
    const ids = { seller: seller.api, tradeId, disputeId };
    const probes = [`/api/v1/users/${seller.id}`, `/api/v1/trades/${tradeId}`, `/api/v1/disputes/${disputeId}`];
    expect(await readBack(ids)).toEqual(expected);

    // Nothing planted is stored or logged in the clear. The scans can see: what the stack does keep in the clear
    // (the dispute's reason) is found, and the logs name the trade.
    expect(await columnsHolding(['the seller does not release'])).toContain('dispute.disputes.reason');
    expect(logLinesHolding([tradeId]).length).toBeGreaterThan(0);
    expect(await columnsHoldingSecrets()).toEqual([]);
    expect(logLinesHoldingSecrets()).toEqual([]);

    // Rotation: the new key encrypts, the old one still opens what it sealed.
    await rekey(`${NEW_KEY},${OLD_KEY}`, probes);
    expect(await readBack(ids)).toEqual(expected);
    const before = await sealedUnder('old');
    for (const n of Object.values(before)) expect(n).toBeGreaterThan(0);

    const output = await reencrypt(`${NEW_KEY},${OLD_KEY}`);
    expect(output).toMatch(/dispute\.evidence: 2 re-sealed/);
    expect(Object.values(await sealedUnder('old')).every((n) => n === 0)).toBe(true);
    expect(await sealedUnder('new')).toMatchObject({
      paymentMethods: before.paymentMethods,
      tradeSnapshots: before.tradeSnapshots,
      chat: before.chat,
      evidence: before.evidence,
      journal: before.journal,
    });
    expect(await reencrypt(`${NEW_KEY},${OLD_KEY}`)).toMatch(/done: 0 values re-sealed/);

    // The old key removed: everything still reads, and is still sealed.
    await rekey(NEW_KEY, probes);
    expect(await readBack(ids)).toEqual(expected);
    expect(await columnsHoldingSecrets()).toEqual([]);
    expect(logLinesHoldingSecrets()).toEqual([]);
  });

  it('when a value is sealed under a key the keyring lacks, then secrets:reencrypt says so and exits 1', async () => {
    await expect(reencrypt(`other:${key()}`)).rejects.toMatchObject({
      code: 1,
      stdout: expect.stringMatching(/could not be opened/),
    });
  });
});
