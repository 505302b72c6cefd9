import type { Redis } from 'ioredis';
import { authRedisKeys, verifyAccessToken, type AccessClaims, type AccessTokenSettings, type Identity } from '@orrange/http';
import { gatewayErrors } from '../errors';

export type TokenSettings = Omit<AccessTokenSettings, 'ttlSeconds'>;

/** Verified tokens kept in-process (a token's signature and claims never change; `exp` is rechecked on use). */
const VERIFIED_TOKENS_MAX = 10_000;

/**
 * Verifies a bearer access token (algorithm, key id, signature, exp, iss, aud: see verifyAccessToken),
 * then refuses it when the user service has revoked the user's earlier tokens: one Redis GET of the
 * user's not-before second. Nothing is cached in-process, so a revocation takes effect at once. Redis
 * unreachable fails closed (503): a revoked token must never slip through. The signature check itself is
 * remembered for tokens already verified, so a client's repeated requests pay only the Redis GET.
 */
export class TokenChecker {
  private readonly verified = new Map<string, AccessClaims>();

  constructor(private readonly settings: TokenSettings, private readonly redis: Redis, private readonly prefix: string) {}

  async check(token: string): Promise<Identity> {
    const claims = this.verify(token);
    let notBefore: string | null;
    try {
      notBefore = await this.redis.get(authRedisKeys.notBefore(this.prefix, claims.userId));
    } catch {
      throw gatewayErrors.authUnavailable();
    }
    if (notBefore !== null && Number(notBefore) > claims.issuedAt) throw gatewayErrors.invalidToken();
    return { userId: claims.userId, roles: claims.roles, scopes: null, via: 'jwt' };
  }

  private verify(token: string): AccessClaims {
    const known = this.verified.get(token);
    if (known && known.expiresAt * 1000 > Date.now()) return known;
    if (known) this.verified.delete(token);
    const claims = verifyAccessToken(token, this.settings);
    if (this.verified.size >= VERIFIED_TOKENS_MAX) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, claims);
    return claims;
  }
}
