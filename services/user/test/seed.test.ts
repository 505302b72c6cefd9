import request from 'supertest';
import { DEV_ADMIN_PASSWORD } from '@orrange/config';
import { seedAdmin } from '../src/seed';
import { registerUser } from './fixtures';
import { createHarness, type Harness } from './harness';

describe('admin bootstrap (seedAdmin)', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await createHarness();
  });

  afterAll(() => harness.close());

  it('when run twice, then the admin is created once, can log in, and holds the admin role', async () => {
    const options = { databaseUrl: harness.testDb.url, email: 'Admin@Orrange.local', password: 'admin-password-123' };
    const first = await seedAdmin(options);
    const second = await seedAdmin(options);
    expect(first.created).toBe(true);
    expect(second).toEqual({ created: false, userId: first.userId });
    const login = await request(harness.app())
      .post('/api/v1/auth/login')
      .send({ email: 'admin@orrange.local', password: 'admin-password-123' });
    expect(login.status).toBe(200);
    expect(login.body.user).toMatchObject({ id: first.userId, username: 'admin', roles: ['user', 'admin'] });
  });

  it('when the email already belongs to an account without the admin role (squatted), then the seed refuses loudly and promotes nobody', async () => {
    const app = harness.app();
    const squatter = await registerUser(app, { username: 'admin_squatter' });
    await expect(
      seedAdmin({
        databaseUrl: harness.testDb.url,
        email: squatter.email.toUpperCase(),
        password: 'some-other-password',
      }),
    ).rejects.toThrow(
      expect.objectContaining({
        name: 'SeedRefusedError',
        message: expect.stringMatching(/ADMIN_EMAIL .* not an admin; refusing/),
      }),
    );
    const [row] = await harness.runtime.db.query<{ roles: string[] }>('SELECT roles FROM users WHERE id = $1', [
      squatter.id,
    ]);
    expect(row!.roles).toEqual(['user']);
    // The squatter's session and password are what they were; nothing about the account changed.
    expect(
      (await request(app).post('/api/v1/auth/login').send({ email: squatter.email, password: 'some-other-password' }))
        .status,
    ).toBe(401);
  });

  it('when the email belongs to an account that is already an admin, then the seed is a no-op that keeps its password', async () => {
    const app = harness.app();
    const admin = await registerUser(app, { username: 'admin_already' });
    await harness.runtime.db.query("UPDATE users SET roles = ARRAY['user','admin'] WHERE id = $1", [admin.id]);
    expect(
      await seedAdmin({ databaseUrl: harness.testDb.url, email: admin.email, password: 'some-other-password' }),
    ).toEqual({ created: false, userId: admin.id });
    expect(
      (await request(app).post('/api/v1/auth/login').send({ email: admin.email, password: 'some-other-password' }))
        .status,
    ).toBe(401);
  });

  it('when the "admin" username is taken by someone else, then another admin email still gets an account', async () => {
    const result = await seedAdmin({
      databaseUrl: harness.testDb.url,
      email: 'second.admin@orrange.local',
      password: 'admin-password-456',
    });
    expect(result.created).toBe(true);
    const [row] = await harness.runtime.db.query<{ username: string; roles: string[] }>(
      'SELECT username, roles FROM users WHERE id = $1',
      [result.userId],
    );
    expect(row).toEqual({ username: 'second_admin', roles: ['user', 'admin'] });
  });

  it('when production seeds with the development password (or none, which means it), then it refuses and creates nothing', async () => {
    const options = {
      databaseUrl: harness.testDb.url,
      email: 'prod.admin@orrange.local',
      password: DEV_ADMIN_PASSWORD,
      production: true,
    };
    await expect(seedAdmin(options)).rejects.toThrow(/ADMIN_PASSWORD/);
    expect(await harness.runtime.db.query("SELECT 1 FROM users WHERE email = 'prod.admin@orrange.local'")).toHaveLength(
      0,
    );
    expect((await seedAdmin({ ...options, password: 'a-real-admin-password' })).created).toBe(true);
  });
});
