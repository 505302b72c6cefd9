import request from 'supertest';
import { identity, registerUser, type TestUser } from './fixtures';
import { createHarness, type Harness } from './harness';

const IBAN = 'DE89370400440532013000';
const HOLDER = 'Alice Plaintext-Holder';

describe('payment methods', () => {
  let harness: Harness;
  let app: ReturnType<Harness['app']>;
  let alice: TestUser;
  let bob: TestUser;

  beforeAll(async () => {
    harness = await createHarness();
    app = harness.app();
    [alice, bob] = await Promise.all([registerUser(app), registerUser(app)]);
  });

  afterAll(() => harness.close());

  const asAlice = () => identity(harness, alice.id);
  const add = (body: object, who = asAlice()) =>
    request(app).post('/api/v1/users/me/payment-methods').set(who).send(body);

  /** Every text, jsonb, json, bytea and array column of every table in the service's schema, searched for `needle` (as the owner: every row). */
  async function databaseContains(needle: string): Promise<string[]> {
    const columns = await harness.testDb.query<{ table_name: string; column_name: string; data_type: string }>(
      `SELECT table_name, column_name, data_type FROM information_schema.columns
        WHERE table_schema = 'users' AND data_type IN ('text', 'character varying', 'jsonb', 'json', 'bytea', 'ARRAY')`,
    );
    const hits: string[] = [];
    for (const c of columns) {
      const asText = c.data_type === 'bytea' ? `encode("${c.column_name}", 'escape')` : `"${c.column_name}"::text`;
      const rows = await harness.testDb.query(
        `SELECT 1 FROM "${c.table_name}" WHERE strpos(${asText}, $1) > 0 LIMIT 1`,
        [needle],
      );
      if (rows.length) hits.push(`${c.table_name}.${c.column_name}`);
    }
    expect(columns.length).toBeGreaterThan(20);
    return hits;
  }

  it('when I add a payment method, then the owner gets it back decrypted and the plaintext is nowhere in the database', async () => {
    const res = await add({ type: 'SEPA', label: 'Main account', details: { iban: IBAN, holder: HOLDER } });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String),
      type: 'SEPA',
      label: 'Main account',
      details: { iban: IBAN, holder: HOLDER },
      createdAt: expect.any(String),
    });
    const text = await add({ type: 'WISE', label: 'Wise', details: `send to ${HOLDER}` });
    expect(text.status).toBe(201);

    const list = await request(app).get('/api/v1/users/me/payment-methods').set(asAlice());
    expect(list.status).toBe(200);
    expect(list.body.data.map((m: { details: unknown }) => m.details)).toEqual([
      { iban: IBAN, holder: HOLDER },
      `send to ${HOLDER}`,
    ]);

    expect(await databaseContains(IBAN)).toEqual([]);
    expect(await databaseContains(HOLDER)).toEqual([]);
    expect(await databaseContains('Main account')).toEqual(['payment_methods.label']);

    const [row] = await harness.testDb.query<{ key_id: string; iv: Buffer; tag: Buffer }>(
      'SELECT key_id, iv, tag FROM payment_methods WHERE id = $1',
      [res.body.id],
    );
    expect(row).toEqual({ key_id: 'dev1', iv: expect.any(Buffer), tag: expect.any(Buffer) });
    expect(row!.iv).toHaveLength(12);
    expect(row!.tag).toHaveLength(16);
  });

  it("when I list payment methods, then I never see someone else's", async () => {
    await add({ type: 'SEPA', label: "Bob's", details: { iban: 'GB33BUKB20201555555555' } }, identity(harness, bob.id));
    const list = await request(app).get('/api/v1/users/me/payment-methods').set(asAlice());
    expect(JSON.stringify(list.body)).not.toContain('GB33BUKB20201555555555');
  });

  it("when two users' ciphertexts are swapped in the database, then decryption refuses them (AAD binds rows)", async () => {
    const a = await add({ type: 'SEPA', label: 'swap-a', details: { iban: 'SWAPA' } });
    const b = await add({ type: 'SEPA', label: 'swap-b', details: { iban: 'SWAPB' } }, identity(harness, bob.id));
    await harness.testDb.query(
      `UPDATE payment_methods p SET iv = o.iv, tag = o.tag, ciphertext = o.ciphertext
         FROM payment_methods o WHERE p.id = $1 AND o.id = $2`,
      [a.body.id, b.body.id],
    );
    const list = await request(app).get('/api/v1/users/me/payment-methods').set(asAlice());
    expect(list.status).toBe(500);
    expect(JSON.stringify(list.body)).not.toContain('SWAPB');
    await request(app).delete(`/api/v1/users/me/payment-methods/${a.body.id}`).set(asAlice()).expect(204);
  });

  it('when I delete a payment method, then 204, it is gone, and deleting it again (or a stranger) is 404', async () => {
    const { body } = await add({ type: 'SEPA', label: 'temp', details: 'temporary' });
    expect(
      (await request(app).delete(`/api/v1/users/me/payment-methods/${body.id}`).set(identity(harness, bob.id))).status,
    ).toBe(404);
    expect((await request(app).delete(`/api/v1/users/me/payment-methods/${body.id}`).set(asAlice())).status).toBe(204);
    expect((await request(app).delete(`/api/v1/users/me/payment-methods/${body.id}`).set(asAlice())).status).toBe(404);
    expect((await request(app).delete('/api/v1/users/me/payment-methods/42').set(asAlice())).status).toBe(404);
    const audit = await harness.runtime.db.query<{ action: string }>(
      'SELECT action FROM audit_log WHERE target_id = $1 ORDER BY id',
      [body.id],
    );
    expect(audit.map((a) => a.action)).toEqual(['payment-method.created', 'payment-method.deleted']);
  });

  it.each([
    ['no details', { type: 'SEPA', label: 'x' }],
    ['empty details object', { type: 'SEPA', label: 'x', details: {} }],
    ['a number in details', { type: 'SEPA', label: 'x', details: { iban: 123 } }],
    ['nested details', { type: 'SEPA', label: 'x', details: { bank: { iban: 'x' } } }],
    ['oversized text details', { type: 'SEPA', label: 'x', details: 'x'.repeat(1025) }],
    [
      'too many fields',
      { type: 'SEPA', label: 'x', details: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`f${i}`, 'v'])) },
    ],
    ['a SQL-looking type', { type: "SEPA'; DROP TABLE payment_methods;--", label: 'x', details: 'x' }],
    ['a smuggled userId', { type: 'SEPA', label: 'x', details: 'x', userId: '00000000-0000-4000-8000-000000000000' }],
  ])('when a payment method has %s, then 400', async (_name, body) => {
    const res = await add(body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION.FAILED');
  });

  it('when an API key asks for payment methods, then 403: details are for signed-in sessions only', async () => {
    const byKey = identity(harness, alice.id, { via: 'api-key', scopes: ['read', 'trade'] });
    expect((await request(app).get('/api/v1/users/me/payment-methods').set(byKey)).status).toBe(403);
  });

  it('when audit rows are read back, then none contains a payment detail', async () => {
    const rows = await harness.runtime.db.query<{ row: string }>('SELECT row_to_json(a)::text AS row FROM audit_log a');
    expect(rows.length).toBeGreaterThan(0);
    for (const { row } of rows) {
      expect(row).not.toContain(IBAN);
      expect(row).not.toContain(HOLDER);
    }
  });
});
