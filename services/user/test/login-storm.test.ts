import request from 'supertest';
import { PasswordHasher } from '../src/domain/password-hasher';
import { PASSWORD, registerUser } from './fixtures';
import { createHarness, type Harness } from './harness';

describe('login storm', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await createHarness({ LOGIN_CONCURRENCY_MAX: '1', LOGIN_QUEUE_MAX: '2' });
  });

  afterAll(() => harness.close());

  it('when more logins arrive than may hash or wait, then the overflow gets 503 SERVICE.BUSY with Retry-After and the rest succeed', async () => {
    const hasher = new PasswordHasher({
      concurrencyMax: harness.config.LOGIN_CONCURRENCY_MAX,
      waitingMax: harness.config.LOGIN_QUEUE_MAX,
    });
    await hasher.warm();
    const app = harness.app({ hasher });
    const user = await registerUser(app);
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        request(app).post('/api/v1/auth/login').send({ email: user.email, password: PASSWORD }),
      ),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(3);
    const busy = results.filter((r) => r.status === 503);
    expect(busy.length).toBeGreaterThan(0);
    expect(busy.length + statuses.filter((s) => s === 200).length).toBe(8);
    expect(busy[0]!.body.code).toBe('SERVICE.BUSY');
    expect(busy[0]!.headers['retry-after']).toBe('1');
  });
});
