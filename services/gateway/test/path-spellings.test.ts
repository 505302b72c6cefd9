import http from 'node:http';
import {
  createTestGateway,
  createTestRedis,
  listen,
  startStub,
  type Listening,
  type StubUpstream,
  type TestGateway,
  type TestRedis,
} from './harness';

/** Sends the path byte for byte (supertest and fetch would normalise `./` and friends first). */
function post(
  server: { port: number },
  path: string,
  ip: string,
  body: object,
): Promise<{ status: number; body: { code?: string } }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: server.port,
        method: 'POST',
        path,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
          'x-forwarded-for': ip,
        },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode!, body: text ? (JSON.parse(text) as { code?: string }) : {} }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const LIMITED = ['login', 'register', 'refresh'] as const;
const bodyFor = (route: (typeof LIMITED)[number]) =>
  route === 'refresh'
    ? { refreshToken: 'guess' }
    : route === 'register'
      ? { email: 'spell@example.com', username: 'spell', password: 'guessing-password' }
      : { email: 'spell@example.com', password: 'guess' };

/** Other spellings of `/api/v1/auth/<route>` that a lenient router would have taken for the route itself. */
function spellings(route: string): Array<{ path: string; refusedAs: 'non-canonical' | 'limited' }> {
  const first = route[0]!;
  return [
    { path: `/api/v1/auth/${route}/`, refusedAs: 'non-canonical' },
    { path: `/api/v1/auth/${route}//`, refusedAs: 'non-canonical' },
    { path: `/api/v1/auth//${route}`, refusedAs: 'non-canonical' },
    { path: `/api/v1/auth/./${route}`, refusedAs: 'non-canonical' },
    { path: `/api/v1/auth/x/../${route}`, refusedAs: 'non-canonical' },
    { path: `/api/v1/auth/${route}/.`, refusedAs: 'non-canonical' },
    { path: `/api/v1/auth/%${first.charCodeAt(0).toString(16)}${route.slice(1)}`, refusedAs: 'non-canonical' },
    {
      path: `/api/v1/auth/%${first.toUpperCase().charCodeAt(0).toString(16)}${route.slice(1)}`,
      refusedAs: 'non-canonical',
    },
    { path: `/api/v1/auth%2F${route}`, refusedAs: 'non-canonical' },
    { path: `/api/v1/auth\\${route}`, refusedAs: 'non-canonical' },
    { path: `/api/v1/auth/${route.toUpperCase()}`, refusedAs: 'limited' },
    { path: `/api/v1/auth/${first.toUpperCase()}${route.slice(1)}`, refusedAs: 'limited' },
    { path: `/api/v1/auth/${route}?again=1`, refusedAs: 'limited' },
  ];
}

describe('gateway: one spelling per limited path', () => {
  let testRedis: TestRedis;
  let user: StubUpstream;
  let gateway: TestGateway;
  let server: Listening;
  const AUTH_LIMIT = 3;

  beforeAll(async () => {
    testRedis = await createTestRedis();
    user = await startStub('user');
    gateway = createTestGateway(
      testRedis,
      { user: [user.url] },
      {
        RATE_LIMIT_PER_MINUTE: '1000',
        AUTH_RATE_LIMIT_PER_MINUTE: String(AUTH_LIMIT),
        LOGIN_ACCOUNT_RATE_LIMIT_PER_MINUTE: '1000',
      },
    );
    server = await listen(gateway.app);
  });

  afterAll(async () => {
    await server.close();
    await gateway.close();
    await user.close();
    await testRedis.cleanup();
  });

  describe.each(LIMITED.map((route, i) => [route, i] as const))('POST /api/v1/auth/%s', (route, i) => {
    it('when the per-IP budget is spent, then every other spelling is refused too (404 or 429), and none reaches the service', async () => {
      const ip = `203.0.113.${100 + i}`;
      const statuses = [];
      for (let n = 0; n <= AUTH_LIMIT; n++)
        statuses.push((await post(server, `/api/v1/auth/${route}`, ip, bodyFor(route))).status);
      expect(statuses).toEqual([...Array(AUTH_LIMIT).fill(200), 429]);
      const seenBefore = user.seen.length;
      for (const spelling of spellings(route)) {
        const res = await post(server, spelling.path, ip, bodyFor(route));
        expect({ path: spelling.path, status: res.status, code: res.body.code }).toEqual({
          path: spelling.path,
          status: spelling.refusedAs === 'limited' ? 429 : 404,
          code: spelling.refusedAs === 'limited' ? 'RATE_LIMITED' : 'ROUTE.NOT_FOUND',
        });
      }
      expect(user.seen.length).toBe(seenBefore);
    });

    it('when the budget is fresh, then non-canonical spellings are refused before the service, and other letter cases are counted', async () => {
      const ip = `203.0.113.${110 + i}`;
      const seenBefore = user.seen.length;
      for (const spelling of spellings(route).filter((s) => s.refusedAs === 'non-canonical')) {
        expect((await post(server, spelling.path, ip, bodyFor(route))).status).toBe(404);
      }
      expect(user.seen.length).toBe(seenBefore);
      const variants = [
        `/api/v1/auth/${route.toUpperCase()}`,
        `/api/v1/auth/${route[0]!.toUpperCase()}${route.slice(1)}`,
        `/api/v1/auth/${route}`,
      ];
      for (const path of variants) await post(server, path, ip, bodyFor(route));
      expect((await post(server, `/api/v1/auth/${route}`, ip, bodyFor(route))).status).toBe(429);
    });
  });

  it('when one account is limited, then a login with another letter case of the path is counted against it too', async () => {
    const perAccount = createTestGateway(
      testRedis,
      { user: [user.url] },
      { AUTH_RATE_LIMIT_PER_MINUTE: '1000', LOGIN_ACCOUNT_RATE_LIMIT_PER_MINUTE: '2' },
    );
    const accountServer = await listen(perAccount.app);
    try {
      const body = { email: 'one-account@example.com', password: 'guess' };
      expect((await post(accountServer, '/api/v1/auth/login', '198.51.100.200', body)).status).toBe(200);
      expect((await post(accountServer, '/api/v1/auth/Login', '198.51.100.201', body)).status).toBe(200);
      expect((await post(accountServer, '/api/v1/auth/LOGIN', '198.51.100.202', body)).status).toBe(429);
      expect((await post(accountServer, '/api/v1/auth/login', '198.51.100.203', body)).status).toBe(429);
    } finally {
      await accountServer.close();
      await perAccount.close();
    }
  });
});
