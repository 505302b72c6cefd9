import type { Redis } from 'ioredis';
import { z } from '@orrange/config';
import {
  API_KEY_CACHE,
  authRedisKeys,
  hashApiKey,
  IDENTITY_HEADER,
  ROLES,
  SCOPES,
  signIdentity,
  type Identity,
} from '@orrange/http';
import { gatewayErrors } from '../errors';
import { requestJson, type JsonResponse } from '../proxy/http-json';
import type { UpstreamPool } from '../proxy/upstream-pool';
import type { KeyReader } from './tracked-cache';

export interface ApiKeySettings {
  /** Where resolutions are written (with their expiry). */
  redis: Redis;
  /**
   * Where they are read: the gateway's TrackedCache, so that a key in use costs no Redis round trip per request. The
   * user service drops an entry when its key is revoked or its owner's roles or status change, and answers only once
   * every gateway's cache has seen the drop (REVOCATION_SETTLE_MS).
   */
  cache: KeyReader;
  prefix: string;
  /** The user service's replicas: it owns API keys and answers POST /internal/api-keys/resolve. */
  users: UpstreamPool;
  internalTokenSecret: string;
  timeoutMs: number;
  cacheSeconds: number;
  negativeCacheSeconds: number;
}

const resolvedKey = z.object({
  userId: z.string().min(1),
  roles: z.array(z.enum(ROLES)),
  scopes: z.array(z.enum(SCOPES)).nullable(),
});
type ResolvedKey = z.infer<typeof resolvedKey>;
const cachedAnswer = z.union([resolvedKey, z.object({ invalid: z.literal(true) })]);

const API_KEY_LENGTH_MAX = 256;
const RESOLVE_PATH = '/internal/api-keys/resolve';
const INVALID_ANSWER = JSON.stringify({ invalid: true });
/** A key forgotten this many times while it was being asked for is answered 503: retried later, never guessed. */
const RESOLVE_ATTEMPTS_MAX = 3;

/**
 * Turns an `X-API-Key` into an identity. The key is only ever handled as its sha256 hash. Answers are
 * cached in Redis (≤ 10 s, shared by every gateway replica; the user service deletes the entry when the key
 * is revoked, and no answer asked for before that is cached after it), unknown keys for ~2 s, and read through
 * the tracked cache (in memory while Redis tracks them: before, every request with a key waited for a GET);
 * concurrent misses for one key share one call to the user service.
 */
export class ApiKeyResolver {
  private readonly inflight = new Map<string, Promise<ResolvedKey | undefined>>();

  constructor(private readonly settings: ApiKeySettings) {}

  async resolve(key: string): Promise<Identity> {
    if (!key || key.length > API_KEY_LENGTH_MAX) throw gatewayErrors.invalidApiKey();
    const keyHash = hashApiKey(key);
    const resolved = (await this.fromCache(keyHash)) ?? (await this.coalesced(keyHash));
    if (!resolved || 'invalid' in resolved) throw gatewayErrors.invalidApiKey();
    return { userId: resolved.userId, roles: resolved.roles, scopes: resolved.scopes ?? [], via: 'api-key' };
  }

  private async fromCache(keyHash: string): Promise<z.infer<typeof cachedAnswer> | undefined> {
    let raw: string | null;
    try {
      raw = await this.settings.cache.get(authRedisKeys.apiKey(this.settings.prefix, keyHash));
    } catch {
      throw gatewayErrors.authUnavailable();
    }
    if (raw === null) return undefined;
    try {
      const parsed = cachedAnswer.safeParse(JSON.parse(raw));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  private coalesced(keyHash: string): Promise<ResolvedKey | undefined> {
    const pending = this.inflight.get(keyHash);
    if (pending) return pending;
    const call = this.fromUserService(keyHash).finally(() => this.inflight.delete(keyHash));
    this.inflight.set(keyHash, call);
    return call;
  }

  /**
   * Asks the user service, and caches its answer unless the key was forgotten meanwhile (revoked, or its owner's
   * roles or status changed: see API_KEY_CACHE): then the answer may predate the change, and the key is asked
   * again, so that neither the cache nor this request acts on it.
   */
  private async fromUserService(keyHash: string): Promise<ResolvedKey | undefined> {
    const { redis, prefix } = this.settings;
    const entry = authRedisKeys.apiKey(prefix, keyHash);
    const mark = authRedisKeys.apiKeyForgotten(prefix, keyHash);
    for (let attempt = 1; ; attempt++) {
      let markRead: string | null;
      try {
        markRead = await redis.get(mark);
      } catch {
        throw gatewayErrors.authUnavailable();
      }
      const resolved = await this.ask(keyHash);
      const [answer, seconds] = resolved
        ? [JSON.stringify(resolved), this.settings.cacheSeconds]
        : [INVALID_ANSWER, this.settings.negativeCacheSeconds];
      // Redis failing here leaves nothing cached, so nothing stale: the answer stands, as it did before caching.
      const cached = await redis.eval(API_KEY_CACHE, 2, entry, mark, markRead ?? '', answer, seconds).catch(() => 1);
      if (cached === 1) return resolved;
      if (attempt === RESOLVE_ATTEMPTS_MAX) throw gatewayErrors.authUnavailable();
    }
  }

  /** The user service's answer: the key's owner and rights, or undefined for a key it does not know (404). */
  private async ask(keyHash: string): Promise<ResolvedKey | undefined> {
    const { users } = this.settings;
    const upstream = users.pick();
    if (!upstream) throw gatewayErrors.authUnavailable();
    let answer: JsonResponse;
    try {
      answer = await requestJson(`${upstream.url}${RESOLVE_PATH}`, {
        method: 'POST',
        agent: upstream.agents.control,
        timeoutMs: this.settings.timeoutMs,
        body: { keyHash },
        headers: {
          [IDENTITY_HEADER]: signIdentity(
            { userId: 'gateway', roles: [], scopes: null, via: 'service' },
            this.settings.internalTokenSecret,
          ),
        },
      });
    } catch (error) {
      if ((error as { code?: string }).code !== 'UPSTREAM_TIMEOUT') users.markConnectionError(upstream);
      throw gatewayErrors.authUnavailable();
    }
    if (answer.status === 404) return undefined;
    const parsed = answer.status === 200 ? resolvedKey.safeParse(answer.body) : undefined;
    if (!parsed?.success) throw gatewayErrors.authUnavailable();
    return parsed.data;
  }
}
