export {
  createTestDatabase,
  dropTestDatabase,
  applyMigrations,
  templateIdentity,
  TEMPLATE_PREFIX,
  TEST_SERVER_URL,
  type TestDatabase,
  type SchemaMigrations,
} from './test-database';
export { createTestRedis, deleteKeys, TEST_REDIS_URL, type TestRedis } from './test-redis';
export { createTestGround, type TestGround } from './test-ground';
export { SHARED_DEV_SECRETS } from './dev-secrets';
export { eventually } from './wait';
export { PrivateRedisServer, type PrivateRedisOptions } from './private-redis';
export { createTestCertificates, type TestCertificates } from './test-certificates';
export { freePort } from './free-port';
export { ReplicatedPostgres } from './replicated-postgres';
export { openSse, type SseClient, type SseEvent } from './sse-client';
