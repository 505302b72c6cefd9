import request from 'supertest';
import { identity, PASSWORD, registerUser, type TestUser } from './fixtures';
import { createHarness, type Harness } from './harness';

describe('Idempotency-Key on creating POSTs (answers sealed at rest)', () => {
  let harness: Harness;
  let app: ReturnType<Harness['app']>;
  let alice: TestUser;

  beforeAll(async () => {
    harness = await createHarness();
    app = harness.app();
    alice = await registerUser(app);
  });

  afterAll(() => harness.close());

  const storedAnswers = async () =>
    (await harness.runtime.db.query<{ row: string }>('SELECT row_to_json(k)::text AS row FROM idempotency_keys k')).map(
      (r) => r.row,
    );

  it('when a payment method is posted twice with one key, then one is created, the answer replays, and neither answer nor details are stored in the clear', async () => {
    const body = { type: 'SEPA', label: 'idem', details: { iban: 'DE02120300000000202051' } };
    const post = () =>
      request(app)
        .post('/api/v1/users/me/payment-methods')
        .set(identity(harness, alice.id))
        .set('Idempotency-Key', 'pm-1')
        .send(body);
    const first = await post();
    const second = await post();
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.headers['idempotency-replayed']).toBe('true');
    expect(second.body).toEqual(first.body);
    const list = await request(app).get('/api/v1/users/me/payment-methods').set(identity(harness, alice.id));
    expect(list.body.data).toHaveLength(1);
    const rows = await storedAnswers();
    expect(rows).toHaveLength(1);
    expect(rows[0]).not.toContain('DE02120300000000202051');
    expect(rows[0]).not.toContain(first.body.id);

    const other = await request(app)
      .post('/api/v1/users/me/payment-methods')
      .set(identity(harness, alice.id))
      .set('Idempotency-Key', 'pm-1')
      .send({ ...body, label: 'changed' });
    expect(other.status).toBe(422);
    expect(other.body.code).toBe('IDEMPOTENCY.KEY_REUSED');
  });

  it('when an API key is created twice with one Idempotency-Key, then one key exists and the replay shows the same key, never stored in the clear', async () => {
    const post = () =>
      request(app)
        .post('/api/v1/users/me/api-keys')
        .set(identity(harness, alice.id))
        .set('Idempotency-Key', 'ak-1')
        .send({ name: 'idem', scopes: ['read'] });
    const first = await post();
    const second = await post();
    expect(first.status).toBe(201);
    expect(second.body.key).toBe(first.body.key);
    expect(
      (await request(app).get('/api/v1/users/me/api-keys').set(identity(harness, alice.id))).body.data,
    ).toHaveLength(1);
    for (const row of await storedAnswers()) expect(row).not.toContain(first.body.key);
  });

  it('when a registration is retried with one key, then one account exists and the stored fingerprint is not a plain hash of the password', async () => {
    const body = { email: 'idem@example.com', username: 'idem_user', password: PASSWORD };
    const first = await request(app).post('/api/v1/auth/register').set('Idempotency-Key', 'reg-1').send(body);
    const second = await request(app).post('/api/v1/auth/register').set('Idempotency-Key', 'reg-1').send(body);
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body.user.id).toBe(first.body.user.id);
    for (const row of await storedAnswers()) {
      expect(row).not.toContain(first.body.refreshToken);
      expect(row).not.toContain(PASSWORD);
    }
  });

  it('when keys are past their 24 h, then the runtime purges them and keeps the younger ones', async () => {
    await harness.runtime.db.query(
      `INSERT INTO idempotency_keys (scope, key, request_hash, created_at) VALUES ('user:old', 'stale', 'h', now() - interval '25 hours'), ('user:old', 'recent', 'h', now() - interval '1 hour')`,
    );
    const purge = harness.runtime.sweepers.find((s) => s.name === 'idempotency-purge')!;
    expect(await purge.sweepNow()).toBe(1);
    expect(await harness.runtime.db.query("SELECT key FROM idempotency_keys WHERE scope = 'user:old'")).toEqual([
      { key: 'recent' },
    ]);
  });
});
