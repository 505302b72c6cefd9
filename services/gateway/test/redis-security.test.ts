import { createTestCertificates, eventually, PrivateRedisServer, type TestCertificates } from '@orrange/testing';
import { readConfig } from '../src/config';
import { createGateway, type Gateway } from '../src/composition';

/**
 * The gateway's three Redis connections (commands, tracked reads, invalidations) against a Redis that asks for a
 * password over TLS: all take it from REDIS_URL and the CA from REDIS_TLS_CA_FILE.
 */
describe('gateway: Redis with a password over TLS', () => {
  const PASSWORD = 'gateway-private-redis-password';
  let certificates: TestCertificates;
  let server: PrivateRedisServer;
  const opened: Gateway[] = [];

  beforeAll(async () => {
    certificates = createTestCertificates();
    server = await PrivateRedisServer.start({ password: PASSWORD, tls: certificates });
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((resources) => resources.close()));
  });

  afterAll(async () => {
    await server?.stop();
    certificates?.remove();
  });

  const resourcesWith = (env: Record<string, string>) => {
    const resources = createGateway(
      readConfig({
        NODE_ENV: 'test',
        LOG_LEVEL: 'silent',
        REDIS_PREFIX: 'orrange-test-gateway-redis-security',
        ...env,
      }),
    );
    opened.push(resources);
    return resources;
  };

  it('when REDIS_URL carries the password and the CA is given, then every connection is served', async () => {
    const resources = resourcesWith({ REDIS_URL: server.url, REDIS_TLS_CA_FILE: certificates.caFile });
    for (const connection of [resources.redis, resources.trackingConnections.reads])
      await expect(connection.ping()).resolves.toBe('PONG');
    // The invalidations connection authenticated too: it holds its subscription (only subscribed connections have sub=1).
    await expect(eventually(async () => / sub=1 /.test(String(await resources.redis.client('LIST'))))).resolves.toBe(
      true,
    );
  });

  it('when REDIS_URL lacks the password, then Redis refuses the gateway', async () => {
    const resources = resourcesWith({ REDIS_URL: server.urlWithoutPassword, REDIS_TLS_CA_FILE: certificates.caFile });
    await expect(resources.redis.ping()).rejects.toThrow(/NOAUTH/);
  });
});
