import { baseServiceSchema, loadConfig } from '@orrange/config';
import {
  createTestCertificates,
  createTestDatabase,
  PrivateRedisServer,
  type TestCertificates,
  type TestDatabase,
} from '@orrange/testing';
import { createRuntime, type Runtime } from '../src/runtime';

/**
 * A production Redis asks for a password and may speak TLS only: the runtime takes both from REDIS_URL (and the
 * CA from REDIS_TLS_CA_FILE), against a private redis-server started here with `--requirepass` (and `--tls-port`).
 */
describe('runtime: Redis with a password and TLS', () => {
  const PASSWORD = 'a-private-redis-password/with:url+characters';
  let database: TestDatabase;
  let certificates: TestCertificates;
  let plain: PrivateRedisServer;
  let tls: PrivateRedisServer;
  const runtimes: Runtime[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    certificates = createTestCertificates();
    plain = await PrivateRedisServer.start({ password: PASSWORD });
    tls = await PrivateRedisServer.start({ password: PASSWORD, tls: certificates });
  });

  afterEach(async () => {
    await Promise.all(runtimes.splice(0).map((runtime) => runtime.close()));
  });

  afterAll(async () => {
    await plain?.stop();
    await tls?.stop();
    certificates?.remove();
    await database?.drop();
  });

  const runtimeWith = (env: Record<string, string>) => {
    const config = loadConfig(baseServiceSchema, {
      DATABASE_URL: database.url,
      LOG_LEVEL: 'silent',
      REDIS_PREFIX: 'orrange-test-redis-security',
      ...env,
    });
    const runtime = createRuntime({ service: 'user', schema: 'public', config, databaseAsOwner: true });
    runtimes.push(runtime);
    return runtime;
  };

  it('when REDIS_URL carries the password, then the runtime is served, and without it or with a wrong one it is refused', async () => {
    await expect(runtimeWith({ REDIS_URL: plain.url }).checks.redis!()).resolves.toMatchObject({ status: 'ok' });
    await expect(runtimeWith({ REDIS_URL: plain.urlWithoutPassword }).checks.redis!()).rejects.toThrow(/NOAUTH/);
    const wrong = new URL(plain.url);
    wrong.password = 'not-the-password';
    await expect(runtimeWith({ REDIS_URL: wrong.toString() }).checks.redis!()).rejects.toThrow(/WRONGPASS|timed out/);
  });

  it('when REDIS_URL picks a database, then the runtime works in that database', async () => {
    const runtime = runtimeWith({ REDIS_URL: `${plain.url}/3` });
    await runtime.redis.set('orrange-test-db-pick', '1');
    const other = runtimeWith({ REDIS_URL: plain.url });
    expect(await other.redis.get('orrange-test-db-pick')).toBeNull();
    expect(await runtime.redis.get('orrange-test-db-pick')).toBe('1');
  });

  it('when REDIS_URL is rediss:// and REDIS_TLS_CA_FILE names the CA that signed the server, then the runtime is served over TLS', async () => {
    const runtime = runtimeWith({ REDIS_URL: tls.url, REDIS_TLS_CA_FILE: certificates.caFile });
    await expect(runtime.checks.redis!()).resolves.toMatchObject({ status: 'ok' });
    expect(runtime.redis.options.tls).toMatchObject({ ca: expect.any(Buffer) });
  });

  it('when the server certificate is not signed by a trusted CA, then the runtime refuses to talk to it', async () => {
    const runtime = runtimeWith({ REDIS_URL: tls.url });
    const failure = new Promise<Error>((resolve) => runtime.redis.once('error', resolve));
    await expect(runtime.checks.redis!()).rejects.toThrow();
    expect((await failure).message).toMatch(/self[- ]signed|unable to verify|certificate/i);
  });

  it('when REDIS_TLS_CA_FILE is set beside a plain redis:// URL, then the runtime refuses to start rather than send the password in the clear', () => {
    expect(() => runtimeWith({ REDIS_URL: plain.url, REDIS_TLS_CA_FILE: certificates.caFile })).toThrow(
      /REDIS_TLS_CA_FILE is set but REDIS_URL is not rediss:\/\//,
    );
    expect(() => runtimeWith({ REDIS_URL: tls.url, REDIS_TLS_CA_FILE: '/nonexistent/ca.pem' })).toThrow(
      /REDIS_TLS_CA_FILE: cannot read \/nonexistent\/ca\.pem \(ENOENT\)/,
    );
  });
});
