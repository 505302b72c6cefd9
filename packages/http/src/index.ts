export {
  AppError,
  badRequest,
  validationFailed,
  unauthorized,
  forbidden,
  notFound,
  conflict,
  unprocessable,
  type FieldError,
} from './errors';
export { problemHandler, notFoundHandler, sendProblem, endWithProblem, PROBLEM_CONTENT_TYPE } from './problem';
export { requestContext, requestIdFor, accessLog } from './request-context';
export { parse, toFieldErrors, wireUnits } from './validate';
export {
  ROLES,
  SCOPES,
  SESSION_ONLY_ROLES,
  IDENTITY_HEADER,
  signIdentity,
  verifyIdentity,
  authenticate,
  identityOf,
  requireAuth,
  requireRole,
  requireService,
  requireSession,
  requireSessionOrScope,
  hasRole,
  requireScopeForMethod,
  type Identity,
  type Role,
  type Scope,
} from './identity';
export {
  parseKeyring,
  signAccessToken,
  verifyAccessToken,
  authRedisKeys,
  API_KEY_CACHE,
  API_KEY_FORGET,
  forgetApiKeysArgs,
  REVOCATION_LEASE_MS_MAX,
  REVOCATION_SETTLE_MS,
  REVOCATION_TTL_MARGIN_SECONDS,
  hashApiKey,
  type Keyring,
  type AccessTokenSettings,
  type AccessClaims,
  type AccessSubject,
} from './access-token';
export {
  createRegistry,
  httpMetrics,
  observabilityRouter,
  overallStatus,
  statusCountGauge,
  type HealthCheck,
  type CheckResult,
  type CheckStatus,
} from './observability';
export { createServiceApp, serviceRouter, type ServiceAppOptions } from './app';
export { runService, startService, type RunOptions } from './lifecycle';
export {
  idempotency,
  IDEMPOTENCY_TABLE_SQL,
  purgeExpiredIdempotencyKeys,
  IDEMPOTENCY_PURGE_BATCH,
  claimKeysSql,
  completeKeysSql,
  type IdempotencyOptions,
  type IdempotencyClaim,
} from './idempotency';
export {
  idempotentInTransaction,
  IdempotencyKeyTaken,
  jsonAnswer,
  claimKeysStatement,
  wasClaimed,
  storeAnswersWithCommit,
  releaseKeysWithCommit,
} from './idempotency-in-transaction';
export {
  schemaOf,
  operation,
  openApiDocument,
  operationIdOf,
  problemSchema,
  tagsOf,
  queryParamsOf,
  pageSchema,
  PAGE_PARAMS,
  API_TAGS,
  CUSTODY_SIGNATURE_SCHEME,
  type ApiTag,
  type Operation,
} from './openapi';
export {
  readPage,
  pageView,
  keyset,
  pageFields,
  pageQuery,
  PAGE_LIMIT_DEFAULT,
  PAGE_LIMIT_MAX,
  type Page,
  type Keyset,
} from './pagination';
