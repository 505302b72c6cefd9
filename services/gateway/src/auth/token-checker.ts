import type { Redis } from 'ioredis';
import { authRedisKeys, verifyAccessToken, type AccessTokenSettings, type Identity } from '@orrange/http';
import { gatewayErrors } from '../errors';

export type TokenSettings = Omit<AccessTokenSettings, 'ttlSeconds'>;

/**
 * Verifies a bearer access token (algorithm, key id, signature, exp, iss, aud: see verifyAccessToken),
 * then refuses it when the user service has revoked the user's earlier tokens: one Redis GET of the
 * user's not-before second. Nothing is cached in-process, so a revocation takes effect at once. Redis
 * unreachable fails closed (503): a revoked token must never slip through.
 */
export class TokenChecker {
  constructor(private readonly settings: TokenSettings, private readonly redis: Redis, private readonly prefix: string) {}

  async check(token: string): Promise<Identity> {
    const claims = verifyAccessToken(token, this.settings);
    let notBefore: string | null;
    try {
      notBefore = await this.redis.get(authRedisKeys.notBefore(this.prefix, claims.userId));
    } catch {
      throw gatewayErrors.authUnavailable();
    }
    if (notBefore !== null && Number(notBefore) > claims.issuedAt) throw gatewayErrors.invalidToken();
    return { userId: claims.userId, roles: claims.roles, scopes: null, via: 'jwt' };
  }
}
