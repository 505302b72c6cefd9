import request from 'supertest';
import { PASSWORD, registerUser } from './fixtures';
import { createHarness, type Harness } from './harness';

describe('user service: one spelling per route', () => {
  let harness: Harness;
  let app: ReturnType<Harness['app']>;

  beforeAll(async () => {
    harness = await createHarness();
    app = harness.app();
  });

  afterAll(() => harness.close());

  it.each(['login', 'register', 'refresh'])(
    'when /api/v1/auth/%s is spelled another way, then 404 and nothing is tried',
    async (route) => {
      const user = await registerUser(app);
      const body =
        route === 'login'
          ? { email: user.email, password: PASSWORD }
          : route === 'refresh'
            ? { refreshToken: user.refreshToken }
            : { email: `x${user.email}`, username: `x${user.username}`, password: PASSWORD };
      for (const path of [
        `/api/v1/auth/${route}/`,
        `/api/v1/auth/${route.toUpperCase()}`,
        `/api/v1/auth/${route[0]!.toUpperCase()}${route.slice(1)}`,
        `/api/v1/AUTH/${route}`,
        `/API/v1/auth/${route}`,
      ]) {
        const res = await request(app).post(path).send(body);
        expect({ path, status: res.status, code: res.body.code }).toEqual({
          path,
          status: 404,
          code: 'ROUTE.NOT_FOUND',
        });
      }
      // The refresh token was not spent by any of those, and the canonical path still works.
      const canonical = await request(app).post(`/api/v1/auth/${route}`).send(body);
      expect(canonical.status).toBe(route === 'register' ? 201 : 200);
    },
  );
});
